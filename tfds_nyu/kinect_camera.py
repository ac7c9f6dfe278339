"""NYU Depth's camera: the Kinect colour camera's pinhole intrinsics, and their scaling to other sizes.

The one owner of these numbers: the synthetic worlds render through them, and rsn_tf.camera
falls back to them for photos without intrinsics.
"""

from __future__ import annotations

__all__ = ["KINECT", "intrinsics_for"]

# Kinect colour camera at 640x480, the intrinsics commonly used for NYU Depth.
KINECT = {"fx": 518.86, "fy": 519.47, "cx": 325.58, "cy": 253.74, "width": 640, "height": 480}


def intrinsics_for(
    height: int,
    width: int,
    fx: float | None = None,
    fy: float | None = None,
    cx: float | None = None,
    cy: float | None = None,
) -> tuple[float, float, float, float]:
    """Kinect intrinsics scaled to (height, width); given values override them."""
    sx, sy = width / KINECT["width"], height / KINECT["height"]
    return (
        fx if fx is not None else KINECT["fx"] * sx,
        fy if fy is not None else KINECT["fy"] * sy,
        cx if cx is not None else KINECT["cx"] * sx,
        cy if cy is not None else KINECT["cy"] * sy,
    )
