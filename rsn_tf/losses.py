"""The paper's losses: L2 (eq. 1), the region loss Lr (eq. 2), the iterative loss Li (eq. 3)
and the combined loss Lc (eq. 4).

Every loss returns one value **per example**, shape (B,), so that a distributed
training loop can reduce it against the global batch with
``tf.nn.compute_average_loss``. Pixels with invalid targets (not finite, or <= 0)
and regions with id 0 are ignored; an example with no valid pixel contributes 0.

Shapes: depths are (B, H, W) or (B, H, W, 1) float metres; ``regions`` are
(B, H, W) or (B, H, W, 1) integer region ids, 0 = invalid (Algorithm 1's ``I``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import tensorflow as tf

__all__ = [
    "LOG_EPS",
    "l2_loss",
    "region_loss",
    "iterative_loss",
    "combined_loss",
    "LossConfig",
]

# Depths are clamped to this before log, so the log variant stays finite (and so do its
# gradients) as predictions approach 0.
LOG_EPS = 1e-3

_MODES = ("linear", "log")


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Weights and variants of the paper's losses (Section 3.3)."""

    region_mode: str = "log"  # Lr on depth or log depth
    iteration_weights: tuple[float, ...] = (0.2, 0.3, 0.5)  # lambda_1..3 of eq. 3
    region_weight: float = 0.3  # lambda_0 of eq. 4
    iterative_weight: float = 0.7  # lambda_4 of eq. 4

    def __post_init__(self):
        if self.region_mode not in _MODES:
            raise ValueError(f"region_mode: expected one of {_MODES}, got {self.region_mode!r}")
        if not self.iteration_weights:
            raise ValueError("iteration_weights: needs at least one weight")


def _squeeze(x: tf.Tensor, name: str) -> tf.Tensor:
    x = tf.convert_to_tensor(x)
    if x.shape.rank == 4:
        if x.shape[-1] != 1:
            raise ValueError(f"{name}: expected one channel, got shape {x.shape}")
        x = x[..., 0]
    if x.shape.rank != 3:
        raise ValueError(f"{name}: expected (B, H, W) or (B, H, W, 1), got shape {x.shape}")
    return x


def _prepare(y_true, y_pred, mode: str) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Return (target, prediction, valid mask), both in log space for ``mode="log"``."""
    if mode not in _MODES:
        raise ValueError(f"mode: expected one of {_MODES}, got {mode!r}")
    y_true = tf.cast(_squeeze(y_true, "y_true"), tf.float32)
    y_pred = tf.cast(_squeeze(y_pred, "y_pred"), tf.float32)
    mask = tf.math.is_finite(y_true) & (y_true > 0)
    # Replace invalid targets before any arithmetic: NaN * 0 is NaN, also in gradients.
    y_true = tf.where(mask, y_true, 1.0)
    if mode == "log":
        y_true = tf.math.log(tf.maximum(y_true, LOG_EPS))
        y_pred = tf.math.log(tf.maximum(y_pred, LOG_EPS))
    return y_true, y_pred, mask


def l2_loss(y_true, y_pred, mode: str = "linear") -> tf.Tensor:
    """Eq. 1: mean squared error over the valid pixels of each example. Returns (B,)."""
    y_true, y_pred, mask = _prepare(y_true, y_pred, mode)
    weight = tf.cast(mask, tf.float32)
    sq = tf.square(y_pred - y_true) * weight
    n = tf.reduce_sum(weight, axis=[1, 2])
    return tf.math.divide_no_nan(tf.reduce_sum(sq, axis=[1, 2]), n)


def region_loss(y_true, y_pred, regions, mode: str = "log") -> tf.Tensor:
    """Eq. 2 (squared): per example, the mean over regions of the MSE inside each region.

    Regions are summed with one ``unsorted_segment_sum`` over the whole batch: region
    ids are offset per example so that region m of example b gets its own segment.
    Empty regions (no valid pixel) are left out of the mean. Returns (B,).
    """
    with tf.name_scope("region_loss"):  # names its ops in profiles
        return _region_loss(y_true, y_pred, regions, mode)


def _region_loss(y_true, y_pred, regions, mode: str) -> tf.Tensor:
    y_true, y_pred, mask = _prepare(y_true, y_pred, mode)
    regions = tf.cast(_squeeze(regions, "regions"), tf.int32)
    if not regions.shape.is_compatible_with(y_true.shape):
        raise ValueError(f"regions: shape {regions.shape} does not match the depth shape {y_true.shape}")
    tf.debugging.assert_equal(
        tf.shape(regions), tf.shape(y_true), message="regions: must have the same (B, H, W) as y_true"
    )
    batch = tf.shape(regions)[0]
    mask &= regions > 0
    per_example = tf.reduce_max(regions) + 1  # segments per example, id 0 included
    offsets = tf.range(batch)[:, None, None] * per_example
    segment = tf.reshape(tf.where(mask, regions + offsets, 0), [-1])  # invalid -> segment 0
    weight = tf.reshape(tf.cast(mask, tf.float32), [-1])
    sq = tf.reshape(tf.square(y_pred - y_true), [-1]) * weight
    num_segments = batch * per_example
    sse = tf.math.unsorted_segment_sum(sq, segment, num_segments)
    count = tf.math.unsorted_segment_sum(weight, segment, num_segments)
    present = tf.cast(count > 0, tf.float32)
    mse = tf.math.divide_no_nan(sse, count)
    # Segment 0 of example 0 collects every invalid pixel: it has weight 0, so count = 0.
    mse = tf.reshape(mse, [batch, per_example])
    present = tf.reshape(present, [batch, per_example])
    return tf.math.divide_no_nan(tf.reduce_sum(mse, axis=1), tf.reduce_sum(present, axis=1))


def iterative_loss(
    y_true, iterations: Sequence[tf.Tensor], regions, weights: Sequence[float] = (0.2, 0.3, 0.5), mode: str = "log"
) -> tf.Tensor:
    """Eq. 3: Li = sum_i lambda_i * Lr(iteration i). Returns (B,)."""
    if len(iterations) != len(weights):
        raise ValueError(
            f"iterations: got {len(iterations)} refinement outputs but {len(weights)} weights {tuple(weights)}"
        )
    total = 0.0
    for weight, y_pred in zip(weights, iterations):
        total += weight * region_loss(y_true, y_pred, regions, mode)
    return total


def combined_loss(
    region_support_true,
    region_support_pred,
    depth_true,
    iterations: Sequence[tf.Tensor],
    regions,
    config: LossConfig = LossConfig(),
) -> dict[str, tf.Tensor]:
    """Eq. 4: Lc = lambda_0 * Lr(region support) + lambda_4 * Li(depth). Returns (B,) terms.

    The dict holds ``region`` (Lr on the generated region support), ``iterative`` (Li)
    and ``total`` (Lc), so that training logs can show every term.
    """
    lr = region_loss(region_support_true, region_support_pred, regions, config.region_mode)
    li = iterative_loss(depth_true, iterations, regions, config.iteration_weights, config.region_mode)
    return {
        "region": lr,
        "iterative": li,
        "total": config.region_weight * lr + config.iterative_weight * li,
    }
