"""The files RSN-TF writes for a predicted depth map, for people and for other tools.

For an image ``<stem>``:

* ``<stem>_depth.png``: 16-bit PNG, depth in millimetres (NYU's convention), same H x W;
* ``<stem>_depth_color.png``: the depth through RSN-TF's colour map (turbo, near = red);
* ``<stem>_depth.npy``: float32 metres;
* ``<stem>.ply`` (when the photo's colours are given): a coloured point cloud,
  back-projected through pinhole intrinsics (``rsn_tf.camera``).

Used by rsn-predict and by the TF Serving client, so both write the same files.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from rsn_tf.camera import back_project, intrinsics_for
from rsn_tf.colormap import DEFAULT_MAX_DEPTH, colorize_depth

__all__ = ["MM_PER_METRE", "depth_to_png16", "write_ply", "write_depth_files"]

MM_PER_METRE = 1000.0


def depth_to_png16(depth: np.ndarray) -> np.ndarray:
    """(H, W) metres -> uint16 millimetres, rounded and clipped to the PNG range."""
    return np.clip(np.round(np.asarray(depth, np.float32) * MM_PER_METRE), 0, 65535).astype(np.uint16)


def write_ply(path: str, points: np.ndarray, colors: np.ndarray) -> int:
    """Binary little-endian PLY of the points with finite, positive depth; returns their count."""
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
    with open(path, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(vertex.tobytes())
    return len(vertex)


def write_depth_files(
    depth: np.ndarray,
    out_dir: str,
    stem: str,
    rgb: np.ndarray | None = None,
    intrinsics: dict | None = None,
    max_depth: float = DEFAULT_MAX_DEPTH,
    png_bytes: bytes | None = None,
) -> dict[str, str | int]:
    """Write the depth PNG, colour PNG, .npy and (with ``rgb``) the .ply; returns their paths.

    ``png_bytes``: an already encoded 16-bit PNG (the server's ``depth_png_bytes``), written as is.
    ``intrinsics``: fx, fy, cx, cy in pixels of this image; missing ones are the Kinect's, scaled.
    The returned dict also holds ``points``, the number of points in the .ply.
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
        with open(paths["depth_png"], "wb") as fh:
            fh.write(png_bytes)
    else:
        cv2.imwrite(paths["depth_png"], depth_to_png16(depth))
    cv2.imwrite(paths["color_png"], colorize_depth(depth, max_depth))
    np.save(paths["npy"], depth)
    if rgb is not None:
        paths["ply"] = f"{base}.ply"
        k = intrinsics_for(*depth.shape, **(intrinsics or {}))
        paths["points"] = write_ply(paths["ply"], back_project(depth, *k), rgb)
    return paths
