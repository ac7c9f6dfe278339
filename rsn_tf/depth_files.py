"""The files RSN-TF writes for a predicted depth map, for people and for other tools.

For an image ``<stem>``:

* ``<stem>_depth.png``: 16-bit PNG, depth in millimetres (NYU's convention), same H x W;
* ``<stem>_depth_color.png``: the depth through RSN-TF's colour map (turbo, near = red);
* ``<stem>_depth.npy``: float32 metres;
* ``<stem>.ply`` (when the photo's colours are given): a coloured point cloud,
  back-projected through pinhole intrinsics (``rsn_tf.camera``), and ``<stem>_camera.json``:
  those intrinsics, where they came from, the units and the PNG's depth scale;
* ``<stem>_confidence.png`` / ``.npy`` (when a confidence map is given): 8-bit (255 = most
  confident) and float32 in [0, 1] (rsn_tf/confidence.py).

Every file is written under a temporary name and renamed into place, so an interrupted run
never leaves a half-written output behind.

Used by rsn-predict and by the TF Serving client, so both write the same files.
"""

from __future__ import annotations

import json
import os
from typing import BinaryIO

import cv2
import numpy as np

from rsn_tf.camera import CameraIntrinsics, back_project, resolve_intrinsics
from rsn_tf.colormap import DEFAULT_MAX_DEPTH, colorize_depth
from rsn_tf.files import atomic_write, atomic_write_bytes

__all__ = ["MM_PER_METRE", "depth_to_png16", "write_ply", "write_depth_files"]

MM_PER_METRE = 1000.0


def depth_to_png16(depth: np.ndarray) -> np.ndarray:
    """(H, W) metres -> uint16 millimetres, rounded and clipped to the PNG range."""
    return np.clip(np.round(np.asarray(depth, np.float32) * MM_PER_METRE), 0, 65535).astype(np.uint16)


def write_ply(path: str | BinaryIO, points: np.ndarray, colors: np.ndarray) -> int:
    """Binary little-endian PLY of the points with finite, positive depth; returns their count.

    ``path``: a file name (written atomically) or a binary file object.
    """
    points = points.reshape(-1, 3)
    colors = colors.reshape(-1, 3)
    keep = np.isfinite(points).all(axis=1) & (points[:, 2] > 0)
    vertex = np.empty(
        int(keep.sum()),
        dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")],
    )
    for i, axis in enumerate("xyz"):
        vertex[axis] = points[keep, i]
    for i, channel in enumerate(("red", "green", "blue")):
        vertex[channel] = colors[keep, i]
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment RSN-TF depth, camera frame, metres\n"
        f"element vertex {len(vertex)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    )

    data = header.encode("ascii") + vertex.tobytes()
    if hasattr(path, "write"):
        path.write(data)
    else:
        atomic_write_bytes(path, data)
    return len(vertex)


def write_depth_files(
    depth: np.ndarray,
    out_dir: str,
    stem: str,
    rgb: np.ndarray | None = None,
    intrinsics: CameraIntrinsics | dict | None = None,
    max_depth: float = DEFAULT_MAX_DEPTH,
    png_bytes: bytes | None = None,
    confidence: np.ndarray | None = None,
) -> dict[str, str | int]:
    """Write the depth PNG, colour PNG, .npy, (with ``rgb``) the .ply and its camera, and
    (with ``confidence``) the confidence map; returns their paths.

    ``png_bytes``: an already encoded 16-bit PNG (the server's ``depth_png_bytes``), written as is.
    ``intrinsics``: CameraIntrinsics, or a dict of fx, fy, cx, cy in pixels of this image
    (missing ones are the Kinect's, scaled). The returned dict also holds ``points``, the
    number of points in the .ply, and ``intrinsics_source``.
    """
    os.makedirs(out_dir, exist_ok=True)
    depth = np.asarray(depth, np.float32)
    base = os.path.join(out_dir, stem)
    paths: dict[str, str | int] = {
        "depth_png": f"{base}_depth.png",
        "color_png": f"{base}_depth_color.png",
        "npy": f"{base}_depth.npy",
    }
    if png_bytes:
        atomic_write_bytes(paths["depth_png"], png_bytes)
    else:
        atomic_write(paths["depth_png"], lambda tmp: cv2.imwrite(tmp, depth_to_png16(depth)))
    atomic_write(paths["color_png"], lambda tmp: cv2.imwrite(tmp, colorize_depth(depth, max_depth)))
    atomic_write(paths["npy"], lambda tmp: np.save(tmp, depth))
    if confidence is not None:
        confidence = np.clip(np.asarray(confidence, np.float32), 0.0, 1.0)
        paths["confidence_png"] = f"{base}_confidence.png"
        paths["confidence_npy"] = f"{base}_confidence.npy"
        as_8bit = np.round(confidence * 255).astype(np.uint8)
        atomic_write(paths["confidence_png"], lambda tmp: cv2.imwrite(tmp, as_8bit))
        atomic_write(paths["confidence_npy"], lambda tmp: np.save(tmp, confidence))
    if rgb is not None:
        if not isinstance(intrinsics, CameraIntrinsics):
            intrinsics = resolve_intrinsics(*depth.shape, overrides=intrinsics)
        paths["ply"] = f"{base}.ply"
        paths["camera"] = f"{base}_camera.json"
        paths["points"] = write_ply(paths["ply"], back_project(depth, *intrinsics.k), rgb)
        paths["intrinsics_source"] = intrinsics.source
        camera = {
            **intrinsics.to_dict(),
            "units": "metres",
            "axes": "camera frame: x right, y down, z forward; pixel (u, v) at depth z is "
            "((u - cx) z / fx, (v - cy) z / fy, z)",
            "depth_png": os.path.basename(str(paths["depth_png"])),
            "depth_png_metres_per_unit": 1.0 / MM_PER_METRE,
            "ply": os.path.basename(str(paths["ply"])),
            "points": paths["points"],
        }
        atomic_write_bytes(str(paths["camera"]), (json.dumps(camera, indent=2) + "\n").encode())
    return paths
