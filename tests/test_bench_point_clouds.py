"""bench/point_clouds.py's 3-D error, on a hand-computed frame: the .ply written by rsn-predict's
writer is read back in pixel order and compared point by point with the sensor's back-projection."""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

import point_clouds  # noqa: E402  (bench/point_clouds.py)


def test_the_error_is_each_points_distance_to_the_sensors_point_at_valid_pixels(tmp_path):
    from rsn_tf.camera import back_project
    from rsn_tf.depth_files import write_ply

    k = {"fx": 2.0, "fy": 2.0, "cx": 0.0, "cy": 0.0}
    sensor = np.array([[1.0, 0.0], [2.0, 2.0]])  # (row 0, col 1) has no reading
    predicted = np.full((2, 2), 1.5, np.float32)
    path = str(tmp_path / "frame.ply")
    write_ply(path, back_project(predicted, *k.values()), np.zeros((2, 2, 3), np.uint8))
    errors = point_clouds.frame_errors(point_clouds.read_ply(path), sensor, k, "frame")
    # Pixel (u, v) at depth z is z * ((u - cx) / fx, (v - cy) / fy, 1): two points on one ray are
    # |dz| * sqrt(((u - cx) / fx)^2 + ((v - cy) / fy)^2 + 1) apart. Valid: (0, 0), (0, 1), (1, 1).
    expected = [0.5 * 1.0, 0.5 * math.sqrt(0.25 + 1), 0.5 * math.sqrt(0.25 + 0.25 + 1)]
    np.testing.assert_allclose(errors, expected, rtol=1e-6)


def test_a_cloud_that_is_not_one_point_per_pixel_is_refused_naming_the_frame():
    with pytest.raises(ValueError, match="frame_7: 3 points, expected one per pixel of the 2x2 frame"):
        point_clouds.frame_errors(np.zeros((3, 3)), np.ones((2, 2)), {"fx": 1, "fy": 1, "cx": 0, "cy": 0}, "frame_7")
