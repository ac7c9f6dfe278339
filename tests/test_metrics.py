"""Depth metrics: hand-computed values, the field's conventions, numpy == Keras streaming."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rsn_tf.metrics import (
    MetricConfig,
    compute_depth_metrics,
    crop_mask,
    eigen_crop_mask,
    garg_crop_mask,
    per_image_metrics,
    per_image_sums,
    pooled_metrics,
)

LN2 = math.log(2.0)


def test_hand_computed_metrics_on_a_2x2_image():
    gt = np.array([[1.0, 2.0], [4.0, 0.0]])  # the 0 is invalid
    pred = np.array([[1.0, 1.0], [8.0, 5.0]])
    m = compute_depth_metrics(pred, gt)
    # Valid pairs (gt, pred): (1, 1), (2, 1), (4, 8).
    assert m["abs_rel"] == pytest.approx((0 + 0.5 + 1.0) / 3)
    assert m["sq_rel"] == pytest.approx((0 + 1 / 2 + 16 / 4) / 3)
    assert m["rmse"] == pytest.approx(math.sqrt((0 + 1 + 16) / 3))
    assert m["rmse_log"] == pytest.approx(LN2 * math.sqrt(2 / 3))
    assert m["rmse_log10"] == pytest.approx(math.log10(2) * math.sqrt(2 / 3))
    assert m["log10"] == pytest.approx(2 * math.log10(2) / 3)
    # Ratios 1, 2, 2: only the first is below 1.25, 1.5625 and 1.953125.
    assert m["delta1"] == m["delta2"] == m["delta3"] == pytest.approx(1 / 3)
    # e = (0, -ln2, ln2): mean 0, mean square 2 ln2^2 / 3.
    assert m["silog"] == pytest.approx(100 * LN2 * math.sqrt(2 / 3))
    assert m["num_images"] == 1


def test_metrics_average_per_image_not_per_pixel():
    gt = np.ones((2, 2, 2)) * 2.0
    pred = gt.copy()
    gt[0, 1:, :] = 0.0  # image 0 keeps only pixel (0, 0) valid
    gt[0, 0, 1] = 0.0
    pred[0, 0, 0] = 1.0  # image 0: abs_rel 0.5 on its single pixel
    per_image = per_image_metrics(pred, gt)
    np.testing.assert_allclose(per_image["abs_rel"], [0.5, 0.0])
    # Per-image mean: 0.25. Pooling pixels would give 0.5 / 5 = 0.1.
    assert compute_depth_metrics(pred, gt)["abs_rel"] == pytest.approx(0.25)


def test_valid_range_is_strict_and_predictions_are_clamped():
    gt = np.array([[1e-3, 10.0, 5.0, 5.0, 5.0, 5.0]])
    pred = np.array([[3.0, 3.0, np.nan, np.inf, 20.0, -np.inf]])
    per = per_image_metrics(pred, gt)
    assert per["valid_pixels"][0] == 4  # 1e-3 and 10 are outside (1e-3, 10)
    # Predictions become 1e-3 (NaN), 10 (inf), 10 (clamped 20), 1e-3 (-inf).
    expected_abs_rel = np.mean(np.abs(5.0 - np.array([1e-3, 10.0, 10.0, 1e-3])) / 5.0)
    assert per["abs_rel"][0] == pytest.approx(expected_abs_rel)


def test_images_without_valid_pixels_are_skipped():
    gt = np.stack([np.zeros((3, 3)), np.full((3, 3), 2.0)])
    pred = np.full((2, 3, 3), 1.0)
    m = compute_depth_metrics(pred, gt)
    assert m["num_images"] == 1 and m["abs_rel"] == pytest.approx(0.5)


def test_eigen_crop_on_480x640():
    mask = eigen_crop_mask(480, 640)
    assert mask.sum() == (471 - 45) * (601 - 41)
    assert mask[45, 41] and mask[470, 600] and not mask[44, 41] and not mask[45, 601]
    gt = np.full((480, 640), 2.0)
    pred = gt.copy()
    pred[0:45] = 4.0  # errors only outside the crop
    assert compute_depth_metrics(pred, gt, MetricConfig(crop="eigen"))["abs_rel"] == 0.0
    assert compute_depth_metrics(pred, gt)["abs_rel"] > 0.0


def test_shape_mismatch_names_both_arguments():
    with pytest.raises(ValueError, match="pred and gt"):
        compute_depth_metrics(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="gt: expected"):
        compute_depth_metrics(np.ones((2, 3)), np.ones((2, 2, 2, 2, 2)))


def test_garg_crop_by_hand():
    # KITTI's 375x1242: rows int(0.40810811 * 375) = 153 to int(0.99189189 * 375) = 371,
    # columns int(0.03594771 * 1242) = 44 to int(0.96405229 * 1242) = 1197.
    mask = garg_crop_mask(375, 1242)
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    assert (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) == (153, 371, 44, 1197)
    assert mask.sum() == (371 - 153) * (1197 - 44)
    # 480x640: rows 195:476, columns 23:616.
    mask = garg_crop_mask(480, 640)
    assert mask.sum() == (476 - 195) * (616 - 23) and mask[195, 23] and not mask[194, 23] and not mask[195, 616]
    assert crop_mask("none", 4, 5).all()
    with pytest.raises(ValueError, match="crop='kitti'"):
        MetricConfig(crop="kitti")


def test_each_crop_scores_only_its_pixels():
    gt = np.full((480, 640), 2.0)
    pred = np.full((480, 640), 4.0)  # wrong everywhere: abs_rel 1
    pred[45:471, 41:601] = 2.0  # right inside the Eigen crop
    assert compute_depth_metrics(pred, gt, MetricConfig(crop="eigen"))["abs_rel"] == 0.0
    # Without a crop: the wrong border is 480*640 - 426*560 pixels of abs_rel 1.
    expected = (480 * 640 - 426 * 560) / (480 * 640)
    assert compute_depth_metrics(pred, gt)["abs_rel"] == pytest.approx(expected)
    # Garg's crop (rows 195:476, columns 23:616) holds rows 471:476 and columns 23:41 and 601:616 of wrong pixels.
    right = (471 - 195) * (601 - 41)
    total = (476 - 195) * (616 - 23)
    assert compute_depth_metrics(pred, gt, MetricConfig(crop="garg"))["abs_rel"] == pytest.approx(1 - right / total)


def test_per_image_mean_and_pooled_aggregation_by_hand():
    # Image 1: 4 valid pixels, all exact. Image 2: 1 valid pixel (others invalid), off by 1 m at 2 m.
    gt = np.array([[[1.0, 2.0], [3.0, 4.0]], [[2.0, 0.0], [0.0, 0.0]]])
    pred = np.array([[[1.0, 2.0], [3.0, 4.0]], [[3.0, 5.0], [5.0, 5.0]]])
    per_image = compute_depth_metrics(pred, gt)
    # Per image: abs_rel (0 + 0.5) / 2 = 0.25; rmse (0 + 1) / 2 = 0.5; delta1 (1 + 0) / 2 = 0.5.
    assert per_image["abs_rel"] == pytest.approx(0.25)
    assert per_image["rmse"] == pytest.approx(0.5)
    assert per_image["delta1"] == pytest.approx(0.5)
    pooled = pooled_metrics(per_image_sums(pred, gt))
    # Pooled over 5 pixels: abs_rel 0.5 / 5 = 0.1; rmse sqrt(1 / 5); delta1 4 / 5.
    assert pooled["abs_rel"] == pytest.approx(0.1)
    assert pooled["rmse"] == pytest.approx(np.sqrt(0.2))
    assert pooled["delta1"] == pytest.approx(0.8)
    assert pooled["num_pixels"] == 5
    # silog pooled: e = ln 1.5 on one pixel of five: 100 * sqrt(e^2/5 - (e/5)^2).
    e = np.log(1.5)
    assert pooled["silog"] == pytest.approx(100 * np.sqrt(e**2 / 5 - (e / 5) ** 2))


def test_median_and_least_squares_alignment_by_hand():
    gt = np.array([[1.0, 2.0, 3.0, 4.0, 9.0]])
    # Median scaling: median(gt) = 3, median(pred) = 1.5, so pred is doubled: exact.
    pred = gt / 2.0
    assert compute_depth_metrics(pred, gt)["abs_rel"] == pytest.approx(0.5)
    assert compute_depth_metrics(pred, gt, MetricConfig(alignment="median"))["abs_rel"] == pytest.approx(0.0)
    # An affine prediction (gt = 2 * pred + 1) is exact after least squares, not after median scaling.
    pred = (gt - 1.0) / 2.0 + 0.0
    pred[0, 0] = 0.0  # gt 1 -> pred 0: clamped before scoring without alignment, fitted with it
    ls = compute_depth_metrics(pred, gt, MetricConfig(alignment="least_squares"))
    assert ls["abs_rel"] == pytest.approx(0.0, abs=1e-9) and ls["delta1"] == 1.0
    median = compute_depth_metrics(pred, gt, MetricConfig(alignment="median"))
    # median(pred) = 1, median(gt) = 3: pred * 3 = [0, 1.5, 3, 4.5, 12], clamped after alignment to
    # [1e-3, 1.5, 3, 4.5, 10] -> |err| / gt = [0.999, .25, 0, .125, 1/9].
    expected = np.mean([0.999, 0.25, 0.0, 0.125, 1.0 / 9.0])
    assert median["abs_rel"] == pytest.approx(expected)


def test_the_valid_depth_range_is_written_once():
    """NYU's (1e-3, 10) m lives in rsn_tf.metrics alone; the protocol, rsn-evaluate's flags and the
    serving bundle read it from there, so no other module may spell it out as a default."""
    import pathlib
    import re

    from rsn_tf.metrics import VALID_DEPTH_RANGE_M

    assert VALID_DEPTH_RANGE_M == (1e-3, 10.0)
    assert (MetricConfig().min_depth, MetricConfig().max_depth) == (1e-3, 10.0)
    spelled = re.compile(r"(min_depth\W{1,4}(1e-3|0\.001)\b|max_depth\W{1,4}10(\.0)?\b)")
    root = pathlib.Path(__file__).resolve().parents[1] / "rsn_tf"
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in root.rglob("*.py")
        if path.name != "metrics.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if spelled.search(line)
    ]
    assert not offenders, f"the valid depth range spelled out again in {offenders}"
