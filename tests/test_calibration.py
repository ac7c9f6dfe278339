"""Metric calibration from known distances: exact factors back, robust to outliers, clear refusals."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rsn_tf.calibration import (
    CalibrationError,
    calibrate,
    fit_calibration,
    known_from_sparse,
    load_sparse_depth,
    parse_known,
)


def _scene(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.8, 8.0, (48, 64))


def test_a_mis_scaled_prediction_gets_its_factor_back():
    gt = _scene()
    pred = gt / 1.7  # a model whose scale is 1.7 times too small
    rng = np.random.default_rng(1)
    for n in (1, 3, 100):
        rows, cols = rng.integers(0, 48, n), rng.integers(0, 64, n)
        fit = fit_calibration(pred[rows, cols], gt[rows, cols], model="scale")
        assert fit.scale == pytest.approx(1.7, rel=1e-3)
        assert fit.shift == 0.0 and fit.inliers == n
    np.testing.assert_allclose(fit.apply(pred), gt, rtol=1e-5)


def test_scale_and_shift_in_depth_and_in_inverse_depth():
    gt = _scene(2)
    rng = np.random.default_rng(3)
    rows, cols = rng.integers(0, 48, 30), rng.integers(0, 64, 30)
    # Depth space: gt = 1.3 * pred + 0.4 by construction.
    pred = (gt - 0.4) / 1.3
    fit = fit_calibration(pred[rows, cols], gt[rows, cols], model="scale_shift")
    assert (fit.scale, fit.shift) == (pytest.approx(1.3, rel=1e-6), pytest.approx(0.4, abs=1e-6))
    # Inverse space: 1/gt = 0.5 / pred + 0.05, i.e. pred = 0.5 / (1/gt - 0.05) (an affine disparity).
    pred = 0.5 / (1.0 / gt - 0.05)
    fit = fit_calibration(pred[rows, cols], gt[rows, cols], model="scale_shift", space="inverse")
    assert (fit.scale, fit.shift) == (pytest.approx(0.5, rel=1e-6), pytest.approx(0.05, abs=1e-7))
    np.testing.assert_allclose(fit.apply(pred), gt, rtol=1e-5)
    assert fit.residual_rmse_m < 1e-6


def test_twenty_percent_outliers_do_not_move_the_robust_fit():
    gt = _scene(4)
    pred = gt * 0.6
    rng = np.random.default_rng(5)
    rows, cols = rng.integers(0, 48, 50), rng.integers(0, 64, 50)
    known = gt[rows, cols].copy()
    bad = rng.choice(50, 10, replace=False)  # 20 % wrong readings (multipath, glass, sky)
    # Each off by a factor of 0.4-0.6 or 1.6-2.4, so none is an accidental inlier.
    known[bad] *= rng.choice([0.5, 2.0], 10) * rng.uniform(0.8, 1.2, 10)
    robust = fit_calibration(pred[rows, cols], known, model="scale")
    assert robust.scale == pytest.approx(1 / 0.6, rel=1e-3)
    assert robust.inliers == 40
    shifted = fit_calibration(pred[rows, cols] + 0.0, known, model="scale_shift")
    assert shifted.scale == pytest.approx(1 / 0.6, rel=1e-3) and shifted.shift == pytest.approx(0.0, abs=1e-3)
    plain = fit_calibration(pred[rows, cols], known, model="scale", robust="none")
    assert abs(plain.scale - 1 / 0.6) > 0.01  # the outliers do move plain least squares
    assert plain.inliers == 50 and plain.residual_rmse_m > robust.residual_rmse_m


def test_refusals_name_the_input():
    with pytest.raises(CalibrationError, match="at least 2 known points.*scale alone"):
        fit_calibration([2.0], [3.0], model="scale_shift")
    with pytest.raises(CalibrationError, match=r"--known='700,10,2': pixel \(x=700, y=10\) is outside the 640x480"):
        parse_known(["700,10,2"], 480, 640)
    with pytest.raises(CalibrationError, match="positive number of metres, got -1"):
        parse_known(["10,10,-1"], 480, 640)
    with pytest.raises(CalibrationError, match="positive number of metres, got 0"):
        parse_known(["10,10,0"], 480, 640)
    with pytest.raises(CalibrationError, match="expected x,y,metres"):
        parse_known(["10;10;2"], 480, 640)
    with pytest.raises(CalibrationError, match="positive"):
        fit_calibration([1.0, 2.0], [1.0, -2.0])
    with pytest.raises(CalibrationError, match="same predicted depth"):
        fit_calibration([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], model="scale_shift")
    with pytest.raises(CalibrationError, match="model='affine'"):
        fit_calibration([1.0], [1.0], model="affine")


def test_known_points_are_read_as_column_then_row():
    depth = np.ones((480, 640), np.float32)
    depth[100, 500] = 4.0  # row 100, column 500
    known = parse_known(["500,100,2.0"], 480, 640)
    calibrated, fit = calibrate(depth, known)
    assert fit.scale == pytest.approx(0.5)
    assert calibrated[100, 500] == pytest.approx(2.0) and calibrated[0, 0] == pytest.approx(0.5)


def test_sparse_depth_from_a_16_bit_png_and_another_resolution(tmp_path):
    sparse = np.zeros((24, 32), np.uint16)
    sparse[3, 5] = 2500  # 2.5 m
    sparse[20, 30] = 4000
    path = str(tmp_path / "lidar.png")
    cv2.imwrite(path, sparse)
    metres = load_sparse_depth(path)
    assert metres[3, 5] == 2.5 and (metres > 0).sum() == 2
    known = known_from_sparse(metres, 48, 64)
    # Pixel centres scale by 2: (3, 5) -> (7, 11), (20, 30) -> (41, 61).
    assert list(zip(known.rows, known.cols)) == [(7, 11), (41, 61)]
    np.save(tmp_path / "bad.npy", np.zeros((4, 4)))
    with pytest.raises(CalibrationError, match="no valid"):
        known_from_sparse(load_sparse_depth(str(tmp_path / "bad.npy")), 48, 64)
    cv2.imwrite(str(tmp_path / "eight.png"), np.zeros((4, 4), np.uint8))
    with pytest.raises(CalibrationError, match="eight.png: expected a single-channel 16-bit PNG"):
        load_sparse_depth(str(tmp_path / "eight.png"))


def test_a_shift_that_crosses_zero_leaves_no_negative_depth():
    fit = fit_calibration([1.0, 2.0], [0.5, 2.5], model="scale_shift", robust="none")  # d' = 2 d - 1.5
    out = fit.apply(np.array([[0.5, 1.0]]))
    assert out[0, 0] == 0.0 and out[0, 1] == pytest.approx(0.5)
