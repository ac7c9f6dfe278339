"""The paper's losses against hand-computed values and loop-by-loop numpy references."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from rsn_tf.losses import LOG_EPS, LossConfig, combined_loss, iterative_loss, l2_loss, region_loss

# ------------------------------------------------------------------ numpy references


def np_transform(x: np.ndarray, mode: str) -> np.ndarray:
    return np.log(np.maximum(x, LOG_EPS)) if mode == "log" else x


def np_l2(y_true, y_pred, mode="linear"):
    out = []
    for t, p in zip(y_true, y_pred):
        valid = np.isfinite(t) & (t > 0)
        err = [(np_transform(p[i], mode) - np_transform(t[i], mode)) ** 2 for i in zip(*np.nonzero(valid))]
        out.append(np.mean(err) if err else 0.0)
    return np.array(out)


def np_region(y_true, y_pred, regions, mode="log"):
    out = []
    for t, p, r in zip(y_true, y_pred, regions):
        per_region = []
        for m in np.unique(r):
            if m == 0:
                continue
            pixels = (r == m) & np.isfinite(t) & (t > 0)
            if not pixels.any():
                continue
            e = np_transform(p[pixels].astype(np.float64), mode) - np_transform(t[pixels].astype(np.float64), mode)
            per_region.append(np.mean(e**2))
        out.append(np.mean(per_region) if per_region else 0.0)
    return np.array(out)


def random_case(seed: int, shape=(3, 12, 16)):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(0.5, 8.0, shape).astype(np.float32)
    y_true[rng.random(shape) < 0.1] = 0.0
    y_true[rng.random(shape) < 0.05] = np.nan
    y_pred = (y_true + rng.normal(0, 0.5, shape)).astype(np.float32)
    y_pred = np.where(np.isfinite(y_pred), np.abs(y_pred) + 0.1, 1.0).astype(np.float32)
    # Region ids with gaps (some ids unused) and invalid id 0; example 2 has many more regions.
    regions = rng.choice([0, 1, 2, 5, 9], size=shape).astype(np.int32)
    regions[2] = rng.integers(0, 40, size=shape[1:])
    return y_true, y_pred, regions


# ------------------------------------------------------------------ hand-computed


def test_region_loss_by_hand_differs_from_l2():
    # Region 1 has errors (1, 1): MSE 1. Region 2 has error (2): MSE 4. Lr = 2.5, L2 = 2.
    y_true = np.array([[[2.0, 2.0, 2.0]]], np.float32)
    y_pred = np.array([[[3.0, 3.0, 4.0]]], np.float32)
    regions = np.array([[[1, 1, 2]]], np.int32)
    assert float(region_loss(y_true, y_pred, regions, mode="linear")[0]) == pytest.approx(2.5)
    assert float(l2_loss(y_true, y_pred)[0]) == pytest.approx(2.0)
    # Log variant: errors ln(3/2), ln(3/2) and ln 2.
    expected = (np.log(1.5) ** 2 + np.log(2.0) ** 2) / 2
    assert float(region_loss(y_true, y_pred, regions, mode="log")[0]) == pytest.approx(expected, rel=1e-6)


def test_iterative_and_combined_weights_by_hand():
    y_true = np.full((1, 2, 2), 2.0, np.float32)
    regions = np.ones((1, 2, 2), np.int32)
    its = [np.full((1, 2, 2), v, np.float32) for v in (3.0, 2.5, 2.0)]  # linear Lr: 1, 0.25, 0
    li = iterative_loss(y_true, its, regions, mode="linear")
    assert float(li[0]) == pytest.approx(0.2 * 1 + 0.3 * 0.25 + 0.5 * 0)
    rs_pred = np.full((1, 2, 2), 4.0, np.float32)  # Lr on region support: 4
    out = combined_loss(y_true, rs_pred, y_true, its, regions, LossConfig(region_mode="linear"))
    assert float(out["region"][0]) == pytest.approx(4.0)
    assert float(out["total"][0]) == pytest.approx(0.3 * 4.0 + 0.7 * (0.2 + 0.075))


# ------------------------------------------------------------------ against numpy on random inputs


@pytest.mark.parametrize("mode", ["linear", "log"])
def test_region_loss_matches_numpy_reference(mode):
    y_true, y_pred, regions = random_case(seed=1)
    got = region_loss(y_true[..., None], y_pred[..., None], regions[..., None], mode=mode).numpy()
    np.testing.assert_allclose(got, np_region(y_true, y_pred, regions, mode), rtol=1e-5)


@pytest.mark.parametrize("mode", ["linear", "log"])
def test_l2_loss_matches_numpy_reference(mode):
    y_true, y_pred, _ = random_case(seed=2)
    np.testing.assert_allclose(l2_loss(y_true, y_pred, mode).numpy(), np_l2(y_true, y_pred, mode), rtol=1e-5)


def test_examples_do_not_leak_into_each_other():
    # Each example's loss computed alone equals its loss inside a batch (region-id offsets work).
    y_true, y_pred, regions = random_case(seed=3)
    batched = region_loss(y_true, y_pred, regions).numpy()
    alone = [float(region_loss(y_true[i : i + 1], y_pred[i : i + 1], regions[i : i + 1])[0]) for i in range(3)]
    np.testing.assert_allclose(batched, alone, rtol=1e-6)


def test_iterative_and_combined_match_numpy_reference():
    y_true, y_pred, regions = random_case(seed=4)
    rng = np.random.default_rng(4)
    its = [np.abs(y_pred + rng.normal(0, 0.2, y_pred.shape)).astype(np.float32) + 0.05 for _ in range(3)]
    expected_li = sum(w * np_region(y_true, p, regions) for w, p in zip((0.2, 0.3, 0.5), its))
    np.testing.assert_allclose(iterative_loss(y_true, its, regions).numpy(), expected_li, rtol=1e-5)
    rs_true = np.where(np.isfinite(y_true), y_true, 0).astype(np.float32)
    out = combined_loss(rs_true, y_pred, y_true, its, regions)
    expected = 0.3 * np_region(rs_true, y_pred, regions) + 0.7 * expected_li
    np.testing.assert_allclose(out["total"].numpy(), expected, rtol=1e-5)


def test_all_invalid_example_contributes_zero():
    y_true = np.zeros((2, 4, 4), np.float32)
    y_true[1] = 3.0
    y_pred = np.ones((2, 4, 4), np.float32)
    regions = np.ones((2, 4, 4), np.int32)
    regions[1, 0] = 0
    out = region_loss(y_true, y_pred, regions, mode="linear").numpy()
    np.testing.assert_allclose(out, [0.0, 4.0])


# ------------------------------------------------------------------ gradients


@pytest.mark.parametrize("loss", ["region", "l2"])
def test_log_variant_gradients_stay_finite_at_zero_depth(loss):
    y_true, _, regions = random_case(seed=5)
    pred = tf.Variable(
        np.stack([np.zeros((12, 16)), np.full((12, 16), 1e-9), np.full((12, 16), -1.0)]).astype(np.float32)
    )
    with tf.GradientTape() as tape:
        if loss == "region":
            value = tf.reduce_sum(region_loss(y_true, pred, regions, mode="log"))
        else:
            value = tf.reduce_sum(l2_loss(y_true, pred, mode="log"))
    grad = tape.gradient(value, pred)
    assert np.isfinite(value.numpy())
    assert np.all(np.isfinite(grad.numpy()))


def test_nan_targets_give_finite_gradients_and_zero_gradient_there():
    y_true, y_pred, regions = random_case(seed=6)
    pred = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(region_loss(y_true, pred, regions, mode="linear"))
    grad = tape.gradient(value, pred).numpy()
    assert np.all(np.isfinite(grad))
    invalid = ~(np.isfinite(y_true) & (y_true > 0)) | (regions == 0)
    assert np.all(grad[invalid] == 0) and np.any(grad[~invalid] != 0)


def test_bad_arguments_are_named():
    y = np.ones((1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="mode"):
        region_loss(y, y, np.ones((1, 4, 4), np.int32), mode="huber")
    with pytest.raises(ValueError, match="regions"):
        region_loss(y, y, np.ones((1, 4, 5), np.int32))
    with pytest.raises(ValueError, match="y_pred"):
        l2_loss(y, np.ones((1, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="iterations"):
        iterative_loss(y, [y, y], np.ones((1, 4, 4), np.int32))
    with pytest.raises(ValueError, match="region_mode"):
        LossConfig(region_mode="squared")
