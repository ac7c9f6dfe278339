"""Per-pixel confidence from the network's own signals, with no extra training.

Two signals, both in log-depth units (so 0.1 means "about 10 % either way"):

* **flip disagreement**: the network is run on the image and on its horizontal mirror, and
  the mirrored prediction is flipped back. A scene's depth does not change in a mirror, so
  where the two disagree the network is guessing: ``|ln d - ln d_flip|``;
* **iteration spread**: the refinement module refines the depth three times (the paper's
  iterative refinement); where its iterations still move the depth a lot, the estimate has
  not settled: the standard deviation of ``ln d_t`` over the iterations.

``signals`` picks ``flip``, ``iterations`` or ``both`` (``u = sqrt(flip² + spread²)``), and
confidence is ``c = exp(-u / 0.1)`` in (0, 1]: 1 where the signals agree perfectly, 0.37 at
10 % disagreement. The mapping is monotone, so rankings (and the AUSE that measures them,
rsn_tf/evaluation/sparsification.py) depend on ``u`` alone.

The default is ``flip``, chosen on the demo model's *training* split by AUSE (BENCHMARKS.md):
there the iteration spread ranked pixels no better than chance (AUSE 1.03-1.09x random) and
diluted the flip signal (0.90x alone, 0.90-0.98x combined). A model trained longer may
differ; measure with bench/confidence.py. ``iterations`` alone needs no second pass.

The depth itself stays the plain prediction (the mirrored pass is not averaged in), so
turning confidence on never changes the depth a user gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import tensorflow as tf

if TYPE_CHECKING:
    from rsn_tf.models import RegionSupportNetwork

__all__ = [
    "CONFIDENCE_SCALE",
    "CONFIDENCE_SIGNALS",
    "DEFAULT_CONFIDENCE_SIGNALS",
    "uncertainty_from_signals",
    "confidence_from_uncertainty",
    "predict_with_confidence",
]

CONFIDENCE_SIGNALS = ("flip", "iterations", "both")
DEFAULT_CONFIDENCE_SIGNALS = "flip"
CONFIDENCE_SCALE = 0.1  # log-depth disagreement at which confidence is 1/e
_EPS = 1e-3  # metres; keeps logs finite where a prediction touches zero


def _log(depth) -> tf.Tensor:
    return tf.math.log(tf.maximum(tf.cast(depth, tf.float32), _EPS))


def uncertainty_from_signals(
    depth: tf.Tensor, flipped_back: tf.Tensor | None = None, iterations: Sequence[tf.Tensor] = ()
) -> tf.Tensor:
    """Log-depth uncertainty from the signals given: the flipped-back prediction of the mirrored
    image and/or the refinement iterations (two or more); all (..., H, W[, 1]) in metres."""
    squares = tf.zeros_like(tf.cast(depth, tf.float32))
    if flipped_back is not None:
        squares += (_log(depth) - _log(flipped_back)) ** 2
    if len(iterations) >= 2:
        squares += tf.math.reduce_variance(tf.stack([_log(t) for t in iterations]), axis=0)
    return tf.sqrt(squares)


def confidence_from_uncertainty(uncertainty: tf.Tensor, scale: float = CONFIDENCE_SCALE) -> tf.Tensor:
    return tf.exp(-tf.cast(uncertainty, tf.float32) / scale)


def predict_with_confidence(
    model: RegionSupportNetwork,
    inputs: tf.Tensor | dict[str, tf.Tensor],
    signals: str = DEFAULT_CONFIDENCE_SIGNALS,
    training: bool = False,
) -> dict[str, tf.Tensor]:
    """The model's outputs plus ``uncertainty`` and ``confidence`` (B, H, W, 1).

    ``inputs``: float images (B, H, W, 3), or the model's input dict (every entry is mirrored).
    """
    if signals not in CONFIDENCE_SIGNALS:
        raise ValueError(f"signals={signals!r}: expected one of {', '.join(CONFIDENCE_SIGNALS)}")
    out = model(inputs, training=training)
    iterations = out["depth_iterations"] if signals in ("iterations", "both") else ()
    flipped_back = None
    if signals in ("flip", "both"):
        if isinstance(inputs, dict):
            mirrored = model({k: tf.image.flip_left_right(v) for k, v in inputs.items()}, training=training)
        else:
            mirrored = model(tf.image.flip_left_right(inputs), training=training)
        flipped_back = tf.image.flip_left_right(mirrored["depth"])
    uncertainty = uncertainty_from_signals(out["depth"], flipped_back, iterations)
    return {**out, "uncertainty": uncertainty, "confidence": confidence_from_uncertainty(uncertainty)}
