"""Per-pixel confidence (flip disagreement, iteration spread) and its measurement (sparsification, AUSE)."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from rsn_tf.confidence import confidence_from_uncertainty, predict_with_confidence, uncertainty_from_signals
from rsn_tf.evaluation.sparsification import SparsificationCurves, ause, image_sparsification


def test_uncertainty_by_hand():
    depth = np.array([[2.0, 2.0]])
    flipped = np.array([[2.0, 2.0 * math.e**0.1]])  # agrees on the left pixel, 0.1 apart in ln on the right
    u = uncertainty_from_signals(depth, flipped).numpy()
    np.testing.assert_allclose(u, [[0.0, 0.1]], atol=1e-6)
    # Iterations 1, e^0.2, e^0.4 times 2 m: ln spread std([0, 0.2, 0.4]) = sqrt(0.08 / 3).
    iterations = [np.full((1, 2), 2.0 * math.e**x) for x in (0.0, 0.2, 0.4)]
    u = uncertainty_from_signals(depth, flipped, iterations).numpy()
    spread = math.sqrt(0.08 / 3)
    np.testing.assert_allclose(u, [[spread, math.sqrt(0.01 + spread**2)]], atol=1e-6)
    c = confidence_from_uncertainty(np.array([0.0, 0.1])).numpy()
    np.testing.assert_allclose(c, [1.0, math.exp(-1.0)], rtol=1e-6)


class _MirrorBiased(tf.keras.Model):
    """Depth = 1 + mean of the left half of the image row: changes under a mirror unless the row is symmetric.

    Its three "iterations" are depth * (e^-0.4, e^-0.2, 1): a log spread of sqrt(0.08 / 3).
    """

    calls = 0

    def call(self, inputs, training=None):
        _MirrorBiased.calls += 1
        image = inputs["image"] if isinstance(inputs, dict) else inputs
        left = tf.reduce_mean(image[:, :, : image.shape[2] // 2, :], axis=[2, 3], keepdims=True)
        depth = 1.0 + left + 0.0 * image[..., :1]
        iterations = [depth * math.exp(x) for x in (-0.4, -0.2, 0.0)]
        return {"depth": depth, "region_support": depth, "depth_iterations": iterations}


def test_a_mirror_symmetric_image_is_fully_confident_and_an_asymmetric_one_is_not():
    model = _MirrorBiased()
    symmetric = np.zeros((1, 2, 4, 3), np.float32)
    symmetric[:, :, [0, 3]] = 1.0  # columns 0 and 3 bright: the same in a mirror
    out = predict_with_confidence(model, tf.constant(symmetric))
    np.testing.assert_allclose(out["confidence"].numpy(), 1.0)
    asymmetric = np.zeros((1, 2, 4, 3), np.float32)
    asymmetric[:, :, 0] = 1.0  # left half mean 0.5 -> 1.5 m; mirrored: 0 -> 1 m
    out = predict_with_confidence(model, tf.constant(asymmetric))
    np.testing.assert_allclose(out["uncertainty"].numpy(), math.log(1.5), rtol=1e-5)
    np.testing.assert_allclose(out["depth"].numpy(), 1.5)  # the depth is the plain prediction
    # Iterations alone: one pass, the log spread; both: the root of the sum of squares.
    spread = math.sqrt(0.08 / 3)
    _MirrorBiased.calls = 0
    out = predict_with_confidence(model, tf.constant(asymmetric), "iterations")
    assert _MirrorBiased.calls == 1
    np.testing.assert_allclose(out["uncertainty"].numpy(), spread, rtol=1e-5)
    out = predict_with_confidence(model, tf.constant(asymmetric), "both")
    np.testing.assert_allclose(out["uncertainty"].numpy(), math.sqrt(math.log(1.5) ** 2 + spread**2), rtol=1e-5)
    with pytest.raises(ValueError, match="signals='all'"):
        predict_with_confidence(model, tf.constant(asymmetric), "all")


def test_sparsification_and_ause_by_hand():
    gt = np.full(4, 10.0)
    pred = gt + np.array([1.0, 2.0, 3.0, 4.0])  # per-pixel errors 1, 2, 3, 4
    fractions = np.array([0.0, 0.25, 0.5, 0.75])
    # Remove the worst first (oracle): keep {1,2,3,4}, {1,2,3}, {1,2}, {1}.
    oracle = [math.sqrt(30 / 4), math.sqrt(14 / 3), math.sqrt(5 / 2), 1.0]
    perfect = image_sparsification(pred, gt, np.array([1, 2, 3, 4]), "rmse", fractions)
    np.testing.assert_allclose(perfect["oracle"], oracle)
    np.testing.assert_allclose(perfect["curve"], oracle)
    assert ause(perfect["curve"], perfect["oracle"], fractions) == pytest.approx(0.0)
    # The reverse ranking removes the best pixels first: keep {1,2,3,4}, {2,3,4}, {3,4}, {4}.
    reverse = image_sparsification(pred, gt, np.array([4, 3, 2, 1]), "rmse", fractions)
    worst = [math.sqrt(30 / 4), math.sqrt(29 / 3), math.sqrt(25 / 2), 4.0]
    np.testing.assert_allclose(reverse["curve"], worst)
    gaps = np.subtract(worst, oracle)
    expected = 0.25 * (gaps[0] / 2 + gaps[1] + gaps[2] + gaps[3] / 2)  # trapezoids of width 0.25
    assert ause(reverse["curve"], reverse["oracle"], fractions) == pytest.approx(expected)
    # abs_rel uses |err| / gt: errors 0.1 .. 0.4, oracle keeps the smallest.
    rel = image_sparsification(pred, gt, np.array([1, 2, 3, 4]), "abs_rel", fractions)
    np.testing.assert_allclose(rel["curve"], [0.25, 0.2, 0.15, 0.1])


def test_an_informative_ranking_beats_random_and_the_accumulator_averages_images():
    rng = np.random.default_rng(0)
    curves = SparsificationCurves("abs_rel")
    for _ in range(5):
        gt = rng.uniform(1, 8, (20, 30))
        noise = rng.normal(0, 1, gt.shape) * rng.uniform(0.01, 0.3, gt.shape)
        pred = gt * np.exp(noise)
        uncertainty = np.abs(noise) + rng.normal(0, 0.02, gt.shape)  # a noisy but honest ranking
        curves.update(pred, gt, uncertainty, gt > 0)
    result = curves.result()
    assert result["images"] == 5
    assert 0 < result["ause"] < 0.5 * result["ause_random"]
    assert result["oracle"][-1] < result["curve"][-1] < result["random"][-1]


@pytest.mark.slow
def test_the_exported_signature_offers_confidence(confidence_export):
    from rsn_tf.model_loading import load_keras_file

    model = load_keras_file(confidence_export["keras"])
    path = confidence_export["saved_model"]
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True, text=True, check=True).stdout
    for signature in ("serving_default", "predict_image_bytes"):
        block = shown.split(f"signature_def['{signature}']")[1].split("signature_def[")[0]
        assert "outputs['confidence']" in block and "shape: (-1, -1, -1)" in block
    loaded = tf.saved_model.load(path)
    image = np.random.default_rng(0).integers(0, 255, (2, 30, 40, 3), dtype=np.uint8)
    out = loaded.signatures["serving_default"](images=tf.constant(image))
    plain = model(tf.image.resize(tf.cast(image, tf.float32), (48, 64), antialias=True), training=False)
    expected = tf.image.resize(plain["depth"], (30, 40))[..., 0].numpy()
    np.testing.assert_allclose(out["depth"].numpy(), expected, rtol=1e-4, atol=1e-5)  # depth unchanged
    confidence = out["confidence"].numpy()
    assert confidence.shape == (2, 30, 40) and 0 < confidence.min() and confidence.max() <= 1.0 + 1e-6
