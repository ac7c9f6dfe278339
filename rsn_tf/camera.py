"""The NYU camera: Kinect colour intrinsics, their scaling to other image sizes, and back-projection.

Used by the synthetic scene renderer (tfds_nyu/synthetic.py) and the predict CLI.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KINECT", "intrinsics_for", "back_project"]

# Kinect colour camera at 640x480, the intrinsics commonly used for NYU Depth.
KINECT = {"fx": 518.86, "fy": 519.47, "cx": 325.58, "cy": 253.74, "width": 640, "height": 480}


def intrinsics_for(height: int, width: int, fx=None, fy=None, cx=None, cy=None) -> tuple[float, float, float, float]:
    """Kinect intrinsics scaled to (height, width); given values override them."""
    sx, sy = width / KINECT["width"], height / KINECT["height"]
    return (
        fx if fx is not None else KINECT["fx"] * sx,
        fy if fy is not None else KINECT["fy"] * sy,
        cx if cx is not None else KINECT["cx"] * sx,
        cy if cy is not None else KINECT["cy"] * sy,
    )


def back_project(depth: np.ndarray, fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """(H, W) metres -> (H, W, 3) camera-frame points (x right, y down, z forward)."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    z = depth.astype(np.float32)
    return np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=-1)
