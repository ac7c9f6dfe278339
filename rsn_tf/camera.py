"""Pinhole cameras: NYU's Kinect, intrinsics from flags, a JSON sidecar or EXIF, and (back-)projection.

A point cloud is only as right as the camera it was back-projected through. For a photo
the intrinsics come, in this order of trust, from:

1. flags (``--fx --fy --cx --cy``, pixels of the given image); a partial set overrides the
   next source's values;
2. a JSON file: ``--camera=FILE`` for every image, or ``<stem>.camera.json`` beside the photo
   (``{"fx", "fy", "cx", "cy"}`` and optionally the ``width``/``height`` they were measured at,
   in which case they are scaled to the image);
3. the photo's EXIF ``FocalLengthIn35mmFilm``: f35 mm-equivalent covers the 43.27 mm diagonal of
   a 36x24 mm frame, so ``fx = fy = f35 * diagonal_px / 43.27``, principal point at the centre;
4. NYU's Kinect colour camera, scaled to the image: the default only when nothing else is known.

``CameraIntrinsics.source`` says which one was used; every ``.ply`` gets a
``<name>_camera.json`` that records it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import BinaryIO

import numpy as np

from rsn_tf.errors import UserError
from tfds_nyu.kinect_camera import intrinsics_for

__all__ = [
    "CameraError",
    "CameraIntrinsics",
    "intrinsics_from_json",
    "intrinsics_from_exif",
    "resolve_intrinsics",
    "back_project",
    "project",
]

FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)  # 43.27 mm: what a 35 mm-equivalent focal length refers to
_EXIF_IFD = 0x8769
_FOCAL_35MM_TAG = 0xA405
_KEYS = ("fx", "fy", "cx", "cy")


class CameraError(UserError, ValueError):
    """Unusable intrinsics; the message names the file or flag."""


@dataclasses.dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels of a ``width`` x ``height`` image, and where they came from."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    source: str

    @property
    def k(self) -> tuple[float, float, float, float]:
        return self.fx, self.fy, self.cx, self.cy

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def intrinsics_from_json(path: str, height: int, width: int) -> CameraIntrinsics:
    """``{"fx", "fy", "cx", "cy"[, "width", "height"]}`` -> intrinsics scaled to (height, width)."""
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError) as error:
        raise CameraError(f"{path}: not a readable JSON camera file ({error})") from None
    if not isinstance(data, dict):
        raise CameraError(f"{path}: expected a JSON object with fx, fy, cx, cy")
    values = {}
    for key in _KEYS:
        value = data.get(key)
        if not isinstance(value, (int, float)) or not math.isfinite(value) or (key in ("fx", "fy") and value <= 0):
            raise CameraError(f"{path}: field {key!r} must be a {'positive ' if key[0] == 'f' else ''}number of pixels")
        values[key] = float(value)
    sx = width / data["width"] if isinstance(data.get("width"), (int, float)) and data["width"] > 0 else 1.0
    sy = height / data["height"] if isinstance(data.get("height"), (int, float)) and data["height"] > 0 else 1.0
    return CameraIntrinsics(
        values["fx"] * sx, values["fy"] * sy, values["cx"] * sx, values["cy"] * sy, width, height, f"json:{path}"
    )


def intrinsics_from_exif(path: str | BinaryIO, height: int, width: int) -> CameraIntrinsics | None:
    """From the photo's EXIF 35 mm-equivalent focal length, or None when it has none.

    ``path``: a file path, or a binary file object holding the photo (an upload).
    """
    try:
        from PIL import Image

        with Image.open(path) as image:
            focal = image.getexif().get_ifd(_EXIF_IFD).get(_FOCAL_35MM_TAG)
    except (OSError, ValueError, SyntaxError):  # not an image PIL reads, or broken EXIF: no EXIF intrinsics
        return None
    if not isinstance(focal, (int, float)) or focal <= 0:
        return None
    f = float(focal) * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM
    return CameraIntrinsics(f, f, (width - 1) / 2.0, (height - 1) / 2.0, width, height, f"exif:{float(focal):g}mm")


def resolve_intrinsics(
    height: int,
    width: int,
    image_path: str | BinaryIO | None = None,
    overrides: dict | None = None,
    camera_file: str | None = None,
) -> CameraIntrinsics:
    """The intrinsics of an HxW image, by the order of trust in the module docstring.

    ``image_path``: the photo's path (its sidecar and EXIF are looked at), or a binary file
    object (EXIF only).
    """
    overrides = {k: float(v) for k, v in (overrides or {}).items() if v is not None}
    sidecar = None
    if camera_file:
        if not os.path.isfile(camera_file):
            raise CameraError(f"--camera={camera_file}: file not found")
        sidecar = camera_file
    elif isinstance(image_path, str):
        candidate = os.path.splitext(image_path)[0] + ".camera.json"
        sidecar = candidate if os.path.isfile(candidate) else None
    base = None
    if sidecar:
        base = intrinsics_from_json(sidecar, height, width)
    elif image_path is not None and len(overrides) < 4:
        base = intrinsics_from_exif(image_path, height, width)
    if base is None:
        fx, fy, cx, cy = intrinsics_for(height, width)
        base = CameraIntrinsics(fx, fy, cx, cy, width, height, "kinect_default")
    if not overrides:
        return base
    if any(overrides.get(k, 1.0) <= 0 for k in ("fx", "fy")):
        raise CameraError("--fx and --fy must be positive (pixels)")
    merged = {**dataclasses.asdict(base), **overrides}
    merged["source"] = "flags" if len(overrides) == 4 else f"flags+{base.source}"
    return CameraIntrinsics(**merged)


def back_project(depth: np.ndarray, fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """(H, W) metres -> (H, W, 3) camera-frame points (x right, y down, z forward)."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    z = depth.astype(np.float32)
    return np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=-1)


def project(points: np.ndarray, fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixel coordinates (u = column, v = row)."""
    points = np.asarray(points, np.float64)
    z = points[..., 2]
    return np.stack([fx * points[..., 0] / z + cx, fy * points[..., 1] / z + cy], axis=-1)
