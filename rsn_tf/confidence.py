"""Per-pixel confidence from the network's own signals, with no extra training.

Two signals, both in log-depth units (so 0.1 means "about 10 % either way"):

* **flip disagreement**: the network is run on the image and on its horizontal mirror, and
  the mirrored prediction is flipped back. A scene's depth does not change in a mirror, so
  where the two disagree the network is guessing: ``|ln d - ln d_flip|``;
* **iteration spread**: the refinement module refines the depth three times (the paper's
  iterative refinement); where its iterations still move the depth a lot, the estimate has
  not settled: the standard deviation of ``ln d_t`` over the iterations.

Uncertainty ``u = sqrt(flip² + spread²)`` and confidence ``c = exp(-u / 0.1)`` in (0, 1]:
1 where both signals agree perfectly, 0.37 at 10 % disagreement. The mapping is monotone,
so rankings (and the AUSE that measures them, rsn_tf/evaluation/sparsification.py) depend on
``u`` alone. The depth itself stays the plain prediction (the flipped pass is not averaged
in), so turning confidence on never changes the depth a user gets.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["CONFIDENCE_SCALE", "uncertainty_from_signals", "confidence_from_uncertainty", "predict_with_confidence"]

CONFIDENCE_SCALE = 0.1  # log-depth disagreement at which confidence is 1/e
_EPS = 1e-3  # metres; keeps logs finite where a prediction touches zero


def uncertainty_from_signals(depth, flipped_back, iterations=()) -> tf.Tensor:
    """Log-depth uncertainty from the prediction, the flipped-back prediction of the mirrored
    image, and (optionally) the refinement iterations; all (..., H, W[, 1]) in metres."""
    log_d = tf.math.log(tf.maximum(tf.cast(depth, tf.float32), _EPS))
    flip = tf.abs(log_d - tf.math.log(tf.maximum(tf.cast(flipped_back, tf.float32), _EPS)))
    if len(iterations) < 2:
        return flip
    logs = tf.stack([tf.math.log(tf.maximum(tf.cast(t, tf.float32), _EPS)) for t in iterations])
    spread = tf.math.reduce_std(logs, axis=0)
    return tf.sqrt(flip**2 + spread**2)


def confidence_from_uncertainty(uncertainty, scale: float = CONFIDENCE_SCALE) -> tf.Tensor:
    return tf.exp(-tf.cast(uncertainty, tf.float32) / scale)


def predict_with_confidence(model, inputs, training: bool = False) -> dict:
    """The model's outputs plus ``uncertainty`` and ``confidence`` (B, H, W, 1).

    ``inputs``: float images (B, H, W, 3), or the model's input dict (every entry is mirrored).
    """
    out = model(inputs, training=training)
    if isinstance(inputs, dict):
        mirrored_inputs = {k: tf.image.flip_left_right(v) for k, v in inputs.items()}
    else:
        mirrored_inputs = tf.image.flip_left_right(inputs)
    mirrored = model(mirrored_inputs, training=training)
    flipped_back = tf.image.flip_left_right(mirrored["depth"])
    uncertainty = uncertainty_from_signals(out["depth"], flipped_back, out["depth_iterations"])
    return {**out, "uncertainty": uncertainty, "confidence": confidence_from_uncertainty(uncertainty)}
