"""Filling the holes of a raw depth map, as NYU fills the depth of its labelled frames."""

from __future__ import annotations

import cv2
import numpy as np

from tfds_nyu.synthetic.frame import MAX_DEPTH

__all__ = ["inpaint_depth"]


def inpaint_depth(raw: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """Fill the holes of a raw depth map from their surroundings (NYU in-paints its labelled frames).

    OpenCV's Navier-Stokes in-painting on the map at half resolution, then the filled values
    are taken only where the reading is missing. A frame with no reading at all takes ``fallback``.
    """
    hole = raw <= 0
    if not hole.any():
        return raw.copy()
    if hole.all():
        return (fallback if fallback is not None else raw).astype(np.float32)
    h, w = raw.shape
    small = cv2.resize(raw, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST)
    small_hole = (small <= 0).astype(np.uint8)
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_NS)
    filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    out = np.where(hole, filled, raw).astype(np.float32)
    return np.clip(out, 0.3, MAX_DEPTH) if fallback is not None else out
