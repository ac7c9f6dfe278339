"""rsn-predict: depth for photos of any size, and the files people look at.

    rsn-predict photo.jpg --model=export/rsn/1 --out=predictions
    rsn-predict photos/ --model=runs/rsn            # a rsn-train --model_dir
    rsn-predict photo.png --model=rsn.keras

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

import os
import sys
from collections.abc import Callable, Sequence

import numpy as np
from absl import flags

from rsn_tf.cli import common

__all__ = ["load_predictor", "predict_files", "main"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")

FLAGS = common.new_flag_values()
flags.DEFINE_string("model", None, "SavedModel dir, rsn-train --model_dir, or .keras file.", flag_values=FLAGS)
flags.DEFINE_string("out", "predictions", "Output dir.", flag_values=FLAGS)
for _name in ("fx", "fy", "cx", "cy"):
    flags.DEFINE_float(_name, None, f"Intrinsic {_name} in pixels (default: Kinect, scaled).", flag_values=FLAGS)
flags.DEFINE_float("max_depth", 10.0, "Colour-map range in metres.", flag_values=FLAGS)


def load_predictor(model: str) -> Callable[[np.ndarray], np.ndarray]:
    """``rgb uint8 (H, W, 3) -> depth (H, W) metres`` from a SavedModel, a run dir or a .keras file.

    The same loaders as rsn-evaluate (rsn_tf/evaluation/sources.py); a SavedModel runs its
    ``serving_default``, a Keras model is resized to its resolution and back, as served.
    """
    from rsn_tf.evaluation.sources import load_source

    source = load_source(model)
    return lambda rgb: source.predict({"image": rgb[None]})["depth"][0]


def _images(path: str) -> list[str]:
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_SUFFIXES))
        if not files:
            raise common.CliError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this directory")
        return files
    if not os.path.isfile(path):
        raise common.CliError(f"{path}: no such file or directory")
    return [path]


def predict_files(
    paths: Sequence[str], predictor, out_dir: str, intrinsics: dict, max_depth: float = 10.0
) -> list[dict]:
    """Predict every image and write its files (rsn_tf.depth_files); one summary dict per image."""
    import cv2

    from rsn_tf.depth_files import write_depth_files

    results = []
    for path in paths:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise common.CliError(f"{path}: not a readable image")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        depth = predictor(rgb).astype(np.float32)
        stem = os.path.splitext(os.path.basename(path))[0]
        written = write_depth_files(depth, out_dir, stem, rgb=rgb, intrinsics=intrinsics, max_depth=max_depth)
        results.append({"image": path, **written, "median_depth_m": float(np.median(depth))})
    return results


def _predict(positionals: list[str]) -> int:
    if len(positionals) != 1:
        raise common.CliError("give one input: an image file or a directory of images (then --model=PATH)")
    if not FLAGS.model:
        raise common.CliError("--model is required: a SavedModel dir, a rsn-train --model_dir or a .keras file")
    paths = _images(positionals[0])
    predictor = load_predictor(FLAGS.model)
    intrinsics = {k: FLAGS[k].value for k in ("fx", "fy", "cx", "cy") if FLAGS[k].value is not None}
    for r in predict_files(paths, predictor, FLAGS.out, intrinsics, FLAGS.max_depth):
        print(
            f"{r['image']}: median depth {r['median_depth_m']:.2f} m -> {r['depth_png']}, {r['ply']} "
            f"({r['points']} points)"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # SourceError (a ValueError) names the model path; a missing dataset or stage is a FileNotFoundError.
    return common.run(_predict, FLAGS, __doc__, argv, program="rsn-predict", errors=(ValueError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())
