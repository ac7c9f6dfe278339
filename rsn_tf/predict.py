"""Predict depth for photos of any size, and write what people look at.

    python -m rsn_tf.predict photo.jpg --model=export/rsn/1 --out=predictions
    python -m rsn_tf.predict photos/ --model=runs/rsn            # a train.py --model_dir
    python -m rsn_tf.predict photo.png --model=rsn.keras

For every image ``<name>`` it writes:

* ``<name>_depth.png``: 16-bit PNG, depth in millimetres (NYU's convention), same H x W;
* ``<name>_depth_color.png``: the depth through the turbo colour map (near = red);
* ``<name>_depth.npy``: float32 metres;
* ``<name>.ply``: a coloured point cloud, back-projected through pinhole intrinsics.

The default intrinsics are NYU's Kinect colour camera (fx 518.86, fy 519.47,
cx 325.58, cy 253.74 at 640x480), scaled to the image's size; --fx/--fy/--cx/--cy
override them (in pixels of the given image). A pixel at column u and row v
(0-based) with depth z becomes the point ((u - cx) z / fx, (v - cy) z / fy, z):
x right, y down, z forward, in metres.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

import cv2
import numpy as np

from rsn_tf.camera import back_project, intrinsics_for

__all__ = ["write_ply", "load_predictor", "predict_files", "main"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def write_ply(path: str, points: np.ndarray, colors: np.ndarray) -> int:
    """Binary little-endian PLY of the points with finite, positive depth; returns their count."""
    points = points.reshape(-1, 3)
    colors = colors.reshape(-1, 3)
    keep = np.isfinite(points).all(axis=1) & (points[:, 2] > 0)
    vertex = np.empty(int(keep.sum()), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                               ("red", "u1"), ("green", "u1"), ("blue", "u1")])
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


def load_predictor(model: str) -> Callable[[np.ndarray], np.ndarray]:
    """``rgb uint8 (H, W, 3) -> depth (H, W) metres`` from a SavedModel, a train.py dir or a .keras file.

    The same loaders as ``rsn_tf.evaluate`` (rsn_tf/evaluation/sources.py); a SavedModel runs
    its ``serving_default``, a Keras model is resized to its resolution and back, as served.
    """
    from rsn_tf.evaluation.sources import load_source

    source = load_source(model)
    return lambda rgb: source.predict({"image": rgb[None]})["depth"][0]


def _images(path: str) -> list[str]:
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_SUFFIXES))
        if not files:
            raise ValueError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this directory")
        return files
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file or directory")
    return [path]


def predict_files(paths: Sequence[str], predictor, out_dir: str, intrinsics: dict, max_depth: float = 10.0) -> list[dict]:
    from rsn_tf.serving_client import colorize_depth

    os.makedirs(out_dir, exist_ok=True)
    results = []
    for path in paths:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{path}: not a readable image")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        depth = predictor(rgb).astype(np.float32)
        stem = os.path.join(out_dir, os.path.splitext(os.path.basename(path))[0])
        cv2.imwrite(f"{stem}_depth.png", np.clip(np.round(depth * 1000), 0, 65535).astype(np.uint16))
        cv2.imwrite(f"{stem}_depth_color.png", colorize_depth(depth, max_depth))
        np.save(f"{stem}_depth.npy", depth)
        k = intrinsics_for(*depth.shape, **intrinsics)
        points = write_ply(f"{stem}.ply", back_project(depth, *k), rgb)
        results.append({"image": path, "depth_png": f"{stem}_depth.png", "ply": f"{stem}.ply", "points": points,
                        "median_depth_m": float(np.median(depth))})
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="an image file or a directory of images")
    parser.add_argument("--model", required=True, help="SavedModel dir, train.py --model_dir, or .keras file")
    parser.add_argument("--out", default="predictions")
    for name in ("fx", "fy", "cx", "cy"):
        parser.add_argument(f"--{name}", type=float, default=None, help=f"intrinsic {name} in pixels (default: Kinect, scaled)")
    parser.add_argument("--max_depth", type=float, default=10.0, help="colour-map range in metres")
    args = parser.parse_args(argv)
    try:
        paths = _images(args.input)
        predictor = load_predictor(args.model)
        intrinsics = {k: getattr(args, k) for k in ("fx", "fy", "cx", "cy")}
        for r in predict_files(paths, predictor, args.out, intrinsics, args.max_depth):
            print(f"{r['image']}: median depth {r['median_depth_m']:.2f} m -> {r['depth_png']}, {r['ply']} "
                  f"({r['points']} points)")
    except ValueError as error:
        print(f"predict: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
