"""The one depth colour map of RSN-TF: turbo, near = red, far = blue, over [0, max_depth] metres,
with its colour bar and the rule that picks ``max_depth`` for a set of maps.

Every picture of depth uses it (predict and serving-client PNGs, evaluation figures, the web
demo, TensorBoard image summaries), so a colour means the same distance everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from rsn_tf.metrics import VALID_DEPTH_RANGE_M

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "TURBO_RGB",
    "colorize_depth",
    "colorize_depth_tf",
    "shared_depth_range",
    "colour_bar",
]

# By default the map spans the valid depth range, so no valid depth saturates it.
DEFAULT_MAX_DEPTH = VALID_DEPTH_RANGE_M[1]
_FONT = cv2.FONT_HERSHEY_SIMPLEX
# OpenCV's turbo table as 256 RGB rows; index 255 is nearest (red), 0 farthest (blue).
TURBO_RGB = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_TURBO)[:, 0, ::-1].copy()


def _index(depth: np.ndarray, max_depth: float) -> np.ndarray:
    return (np.clip(1.0 - np.asarray(depth, np.float32) / max_depth, 0.0, 1.0) * 255).astype(np.uint8)


def colorize_depth(depth: np.ndarray, max_depth: float = DEFAULT_MAX_DEPTH) -> np.ndarray:
    """(H, W) metres -> (H, W, 3) **BGR** uint8, ready for ``cv2.imwrite``."""
    return TURBO_RGB[_index(depth, max_depth)][..., ::-1].copy()


def colorize_depth_tf(depth: tf.Tensor, max_depth: float = DEFAULT_MAX_DEPTH) -> tf.Tensor:
    """(B, H, W, 1) metres tensor -> (B, H, W, 3) **RGB** uint8 tensor, for ``tf.summary.image``."""
    import tensorflow as tf

    index = tf.cast(tf.clip_by_value(1.0 - depth[..., 0] / max_depth, 0.0, 1.0) * 255.0, tf.int32)
    return tf.gather(tf.constant(TURBO_RGB), index)


def shared_depth_range(depths: Sequence[np.ndarray]) -> float:
    """The colour map's far end: the 99th percentile of the valid ground truth, rounded up to 0.5 m."""
    values = np.concatenate([d[np.isfinite(d) & (d > 0)].ravel() for d in depths] or [np.zeros(0)])
    if values.size == 0:
        return DEFAULT_MAX_DEPTH
    return max(0.5, math.ceil(float(np.percentile(values, 99)) * 2) / 2)


def colour_bar(height: int, max_depth: float, width: int = 70) -> np.ndarray:
    """A vertical bar: 0 m at the top (red) to ``max_depth`` at the bottom (blue), ticks in metres."""
    bar_w, top, bottom = 18, 8, 8
    inner = max(2, height - top - bottom)
    ramp = np.linspace(0.0, max_depth, inner, dtype=np.float32)[:, None].repeat(bar_w, axis=1)
    out = np.full((height, width, 3), 255, np.uint8)
    out[top : top + inner, 4 : 4 + bar_w] = colorize_depth(ramp, max_depth)
    step = next(s for s in (0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0) if max_depth / s <= 6)
    for value in np.arange(0.0, max_depth + 1e-6, step):
        y = top + int(round(value / max_depth * (inner - 1)))
        cv2.line(out, (4 + bar_w, y), (8 + bar_w, y), (0, 0, 0), 1)
        cv2.putText(out, f"{value:g} m", (11 + bar_w, y + 4), _FONT, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    return out
