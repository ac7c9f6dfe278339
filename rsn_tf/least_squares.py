"""The least-squares scale (and shift) fit that evaluation's alignment and metric calibration share.

A leaf (numpy only): rsn_tf.metrics aligns predictions with it and rsn_tf.calibration fits known
depths with it, so both compute the same fit and neither imports the other.
"""

from __future__ import annotations

import numpy as np

__all__ = ["least_squares_fit"]


def least_squares_fit(x: np.ndarray, y: np.ndarray, model: str = "scale_shift") -> tuple[float, float]:
    """``(s, t)`` minimising ``sum((s x + t - y)^2)`` (``t`` = 0 for ``model="scale"``)."""
    if model == "scale":
        return float(np.dot(x, y) / np.dot(x, x)), 0.0
    design = np.stack([x, np.ones_like(x)], axis=1)
    (s, t), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(s), float(t)
