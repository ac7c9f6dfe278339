"""The predict CLI: real photos through an exported model; PNG, .npy and a PLY that back-projects right."""

from __future__ import annotations

import glob
import os

import cv2
import numpy as np
import pytest

from rsn_tf.camera import back_project, intrinsics_for
from rsn_tf.cli.predict import main
from rsn_tf.depth_files import write_ply

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_PHOTOS = os.path.join(ROOT, "..", "shared", "data", "real_indoor")
needs_shared = pytest.mark.skipif(
    not os.path.isdir(REAL_PHOTOS), reason=f"the shared test data is absent ({REAL_PHOTOS})"
)


def read_ply(path: str) -> tuple[dict, np.ndarray]:
    data = open(path, "rb").read()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    assert header[0] == "ply" and header[1] == "format binary_little_endian 1.0"
    count = int(next(line for line in header if line.startswith("element vertex")).split()[-1])
    dtype = [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vertices = np.frombuffer(data[end:], dtype=dtype)
    assert len(vertices) == count
    return {"count": count}, vertices


def test_a_pixel_at_known_depth_back_projects_to_the_right_point(tmp_path):
    depth = np.zeros((480, 640), np.float32)
    depth[300, 500] = 2.0
    fx, fy, cx, cy = intrinsics_for(480, 640)
    assert (fx, fy, cx, cy) == (518.86, 519.47, 325.58, 253.74)
    points = back_project(depth, fx, fy, cx, cy)
    # By hand: x = 174.42 * 2 / 518.86 = 0.672320, y = 46.26 * 2 / 519.47 = 0.178105, z = 2.
    np.testing.assert_allclose(points[300, 500], [0.672320, 0.178105, 2.0], rtol=1e-5)
    colors = np.full((480, 640, 3), 7, np.uint8)
    colors[300, 500] = (255, 0, 10)
    n = write_ply(str(tmp_path / "one.ply"), points, colors)
    info, vertices = read_ply(str(tmp_path / "one.ply"))
    assert n == info["count"] == 1  # only the valid pixel
    assert tuple(vertices[0])[3:] == (255, 0, 10)
    np.testing.assert_allclose(
        [vertices[0]["x"], vertices[0]["y"], vertices[0]["z"]], [0.672320, 0.178105, 2.0], rtol=1e-5
    )


def test_intrinsics_scale_with_the_image_and_can_be_overridden():
    fx, fy, cx, cy = intrinsics_for(240, 320)
    assert fx == pytest.approx(259.43) and cy == pytest.approx(126.87)
    assert intrinsics_for(240, 320, fx=100.0)[0] == 100.0


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from rsn_tf.models import RegionSupportNetwork, get_preset
    from rsn_tf.serving.exporter import export_saved_model

    model = RegionSupportNetwork(get_preset("tiny", height=48, width=64))
    model.build()
    return export_saved_model(model, str(tmp_path_factory.mktemp("exp")), "rsn")


@needs_shared
def test_cli_on_the_real_photos_writes_every_output(exported, tmp_path):
    assert main([REAL_PHOTOS, f"--model={exported}", f"--out={tmp_path}"]) == 0
    photos = sorted(glob.glob(os.path.join(REAL_PHOTOS, "*_image.png")))
    assert len(photos) == 3
    for photo in photos:
        stem = tmp_path / os.path.splitext(os.path.basename(photo))[0]
        png = cv2.imread(f"{stem}_depth.png", cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint16 and png.shape == (480, 640)
        depth = np.load(f"{stem}_depth.npy")
        assert depth.dtype == np.float32 and depth.shape == (480, 640)
        np.testing.assert_array_equal(png, np.clip(np.round(depth * 1000), 0, 65535).astype(np.uint16))
        color = cv2.imread(f"{stem}_depth_color.png")
        assert color.shape == (480, 640, 3) and color.dtype == np.uint8
        info, vertices = read_ply(f"{stem}.ply")
        assert info["count"] == 480 * 640  # every predicted depth is positive
        rgb = cv2.cvtColor(cv2.imread(photo), cv2.COLOR_BGR2RGB)
        assert tuple(vertices[0])[3:] == tuple(rgb[0, 0])  # row-major, coloured by the photo


def test_cli_errors_name_the_input(tmp_path, exported):
    assert main([str(tmp_path / "missing.jpg"), f"--model={exported}"]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty), f"--model={exported}"]) == 2
