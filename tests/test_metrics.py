"""Depth metrics: hand-computed values, the field's conventions, numpy == Keras streaming."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rsn_tf.metrics import (
    METRIC_NAMES,
    DepthMetric,
    MetricConfig,
    compute_depth_metrics,
    depth_metrics,
    eigen_crop_mask,
    per_image_metrics,
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
    assert compute_depth_metrics(pred, gt, MetricConfig(eigen_crop=True))["abs_rel"] == 0.0
    assert compute_depth_metrics(pred, gt)["abs_rel"] > 0.0


def test_shape_mismatch_names_both_arguments():
    with pytest.raises(ValueError, match="pred and gt"):
        compute_depth_metrics(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="gt: expected"):
        compute_depth_metrics(np.ones((2, 3)), np.ones((2, 2, 2, 2, 2)))


def random_batches(seed: int, n: int = 3, shape=(2, 24, 32)):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        gt = rng.uniform(0.3, 9.5, shape)
        gt[rng.random(shape) < 0.1] = 0.0
        gt[rng.random(shape) < 0.02] = np.nan
        pred = gt * rng.uniform(0.6, 1.5, shape)
        pred[rng.random(shape) < 0.01] = np.inf
        yield pred, gt


@pytest.mark.parametrize("eigen_crop", [False, True])
def test_keras_streaming_metrics_match_numpy(eigen_crop):
    config = MetricConfig(eigen_crop=eigen_crop)
    metrics = depth_metrics(config)
    preds, gts = [], []
    for pred, gt in random_batches(seed=11):
        for metric in metrics:
            metric.update_state(gt[..., None].astype(np.float32), pred[..., None].astype(np.float32))
        preds.append(pred)
        gts.append(gt)
    reference = compute_depth_metrics(np.concatenate(preds), np.concatenate(gts), config)
    for metric in metrics:
        assert float(metric.result()) == pytest.approx(reference[metric.name], rel=1e-5, abs=1e-6), metric.name
    assert {m.name for m in metrics} == set(METRIC_NAMES)


def test_keras_metric_reset_and_config_round_trip():
    metric = DepthMetric("delta1", eigen_crop=True, name="val_delta1")
    metric.update_state(np.full((1, 48, 64), 2.0), np.full((1, 48, 64), 4.0))
    assert float(metric.result()) == 0.0
    metric.reset_state()
    metric.update_state(np.full((1, 48, 64), 2.0), np.full((1, 48, 64), 2.1))
    assert float(metric.result()) == 1.0
    clone = DepthMetric.from_config(metric.get_config())
    assert clone.metric == "delta1" and clone.config.eigen_crop and clone.name == "val_delta1"
    with pytest.raises(ValueError, match="metric: unknown"):
        DepthMetric("rmse_lin")
