"""The one depth colour map of RSN-TF: turbo, near = red, far = blue, over [0, max_depth] metres.

Every picture of depth uses it (predict and serving-client PNGs, evaluation figures,
TensorBoard image summaries), so a colour means the same distance everywhere.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["DEFAULT_MAX_DEPTH", "TURBO_RGB", "colorize_depth", "colorize_depth_tf"]

DEFAULT_MAX_DEPTH = 10.0
# OpenCV's turbo table as 256 RGB rows; index 255 is nearest (red), 0 farthest (blue).
TURBO_RGB = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_TURBO)[:, 0, ::-1].copy()


def _index(depth: np.ndarray, max_depth: float) -> np.ndarray:
    return (np.clip(1.0 - np.asarray(depth, np.float32) / max_depth, 0.0, 1.0) * 255).astype(np.uint8)


def colorize_depth(depth: np.ndarray, max_depth: float = DEFAULT_MAX_DEPTH) -> np.ndarray:
    """(H, W) metres -> (H, W, 3) **BGR** uint8, ready for ``cv2.imwrite``."""
    return TURBO_RGB[_index(depth, max_depth)][..., ::-1].copy()


def colorize_depth_tf(depth, max_depth: float = DEFAULT_MAX_DEPTH):
    """(B, H, W, 1) metres tensor -> (B, H, W, 3) **RGB** uint8 tensor, for ``tf.summary.image``."""
    import tensorflow as tf

    index = tf.cast(tf.clip_by_value(1.0 - depth[..., 0] / max_depth, 0.0, 1.0) * 255.0, tf.int32)
    return tf.gather(tf.constant(TURBO_RGB), index)
