"""rsn-predict: depth for photos, folders and videos, and the files people look at.

    rsn-predict photo.jpg --model=export/rsn/1 --out=predictions
    rsn-predict photos/ --model=runs/rsn --confidence          # recursive, batched, progress bar
    rsn-predict photo.jpg --model=runs/rsn --known=412,300,2.35  # fix the scale from one distance
    rsn-predict photo.jpg --model=runs/rsn --sparse_depth=lidar.png --calibrate=scale_shift
    rsn-predict walk.mp4 --model=runs/rsn --png_frames --temporal_smoothing=0.5

``--model`` takes a SavedModel, an export base, a rsn-train --model_dir or a .keras file.
For every image ``<name>`` (``sub__dir__name`` for images in subfolders) it writes:

* ``<name>_depth.png``: 16-bit PNG, depth in millimetres (NYU's convention), same H x W;
* ``<name>_depth_color.png``: the depth through the turbo colour map (near = red);
* ``<name>_depth.npy``: float32 metres;
* ``<name>.ply`` and ``<name>_camera.json``: a coloured point cloud and the intrinsics it was
  back-projected with (x right, y down, z forward, metres), and where they came from;
* with ``--confidence``: ``<name>_confidence.png`` (8-bit, 255 = most confident) and ``.npy``
  (float in (0, 1]), from flip disagreement and/or the refinement iterations' spread
  (--confidence_signals; rsn_tf/confidence.py);
* with ``--known`` or ``--sparse_depth``: ``<name>_calibration.json`` (the fitted scale, shift
  and residual); every other output is then in calibrated metres.

Intrinsics: --fx/--fy/--cx/--cy (pixels of the given image), else --camera=FILE or a
``<photo>.camera.json`` beside the photo, else the photo's EXIF 35 mm-equivalent focal length,
else NYU's Kinect, scaled. Each image's line says which.

Calibration: --known=x,y,metres (repeatable; x = column, y = row, 0-based pixels of the input)
or --sparse_depth (a 16-bit PNG in mm or a .npy in metres, 0 = missing; a folder of
``<name>.png``/``<name>.npy`` for a folder of photos). --calibrate picks scale or
scale_shift, --calibrate_space depth or inverse (for relative-depth models), --robust
ransac (default; --inlier_threshold is relative) or none.

A video (.mp4, .avi, .mov, .mkv, .webm, .m4v) gives ``<name>_depth.mp4`` (colourised) and,
with --png_frames, ``<name>_frames/NNNNNN.png`` in mm. --temporal_smoothing=a (0 < a < 1)
averages log depth over frames (ln d'_t = a ln d'_(t-1) + (1 - a) ln d_t): a deviation from
single-image inference, off by default.

An unreadable image or frame is skipped with one warning line naming it and counted in the
summary; every output is complete or absent. Exit status: 0 when something was written and
nothing skipped, 1 when some inputs were skipped, 2 on a bad flag or model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from absl import flags

from rsn_tf.cli import common
from rsn_tf.prediction import PredictOptions

__all__ = ["main"]

FLAGS = common.new_flag_values()
_F = dict(flag_values=FLAGS)
flags.DEFINE_string("model", None, "SavedModel dir, export base, rsn-train --model_dir, or .keras file.", **_F)
flags.DEFINE_string("out", PredictOptions.out_dir, "Output dir.", **_F)
for _name in ("fx", "fy", "cx", "cy"):
    flags.DEFINE_float(_name, None, f"Intrinsic {_name} in pixels of the input image.", **_F)
flags.DEFINE_string("camera", None, "JSON with fx, fy, cx, cy (and optionally width, height) for every input.", **_F)
flags.DEFINE_enum(
    "confidence_signals",
    "flip",
    ["flip", "iterations", "both"],
    "Keras models: what the confidence is made from (a SavedModel uses its export's choice).",
    **_F,
)
common.define_calibration_flags(FLAGS)  # --known, --sparse_depth (a file, or a dir of <name>.png/.npy), ...
# The prediction options' own fields, named and defaulted as rsn_tf.prediction.PredictOptions has them.
OPTION_FLAGS = common.define_dataclass_flags(
    FLAGS,
    PredictOptions,
    __name__,
    only=("batch_size", "max_depth", "confidence", "png_frames", "temporal_smoothing"),
    helps={
        "batch_size": "Images per batch (consecutive images of the same size).",
        "max_depth": "Colour-map range in metres.",
        "confidence": "Also write the per-pixel confidence map (images).",
        "png_frames": "Videos: also write 16-bit PNG depth frames (mm).",
        "temporal_smoothing": "Videos: weight of the previous frame's log depth (0 = off).",
    },
)
flags.DEFINE_boolean("no_progress", False, "No progress bar.", **_F)


def _options() -> PredictOptions:
    if not 0.0 <= FLAGS.temporal_smoothing < 1.0:
        raise common.CliError(f"--temporal_smoothing={FLAGS.temporal_smoothing}: must be in [0, 1)")
    if FLAGS.batch_size < 1:
        raise common.CliError(f"--batch_size={FLAGS.batch_size}: must be >= 1")
    if FLAGS.camera and not os.path.isfile(FLAGS.camera):
        raise common.CliError(f"--camera={FLAGS.camera}: file not found")
    return common.dataclass_from_flags(
        PredictOptions,
        FLAGS,
        OPTION_FLAGS,
        out_dir=FLAGS.out,
        intrinsics={k: FLAGS[k].value for k in ("fx", "fy", "cx", "cy") if FLAGS[k].value is not None},
        camera_file=FLAGS.camera,
        known=list(FLAGS.known),
        sparse_depth=FLAGS.sparse_depth,
        calibration=common.calibration_options(FLAGS),
        progress=not FLAGS.no_progress,
    )


def _describe(entry: dict) -> str:
    if "video" in entry:
        return f"{entry['video']}: {entry['frames']} frames -> {entry['depth_video']}"
    line = (
        f"{entry['image']}: median depth {entry['median_depth_m']:.2f} m -> {entry['depth_png']}, {entry['ply']} "
        f"({entry['points']} points, intrinsics: {entry['intrinsics_source']})"
    )
    fit = entry.get("calibration_fit")
    if fit:
        line += (
            f"; calibrated x{fit['scale']:.4f} {fit['shift']:+.4f} ({fit['space']}), {fit['inliers']}/{fit['points']} "
            f"points agree, residual {fit['residual_rmse_m']:.3f} m"
        )
    return line


def _predict(positionals: list[str]) -> int:
    if len(positionals) != 1:
        raise common.CliError("give one input: an image, a folder of images or a video (then --model=PATH)")
    if not FLAGS.model:
        raise common.CliError("--model is required: a SavedModel dir, a rsn-train --model_dir or a .keras file")
    from rsn_tf.depth_sources import load_source
    from rsn_tf.prediction import find_inputs, predict_images, predict_video

    options = _options()
    kind, paths = find_inputs(positionals[0])
    if kind == "video" and FLAGS.confidence:
        raise common.CliError("--confidence is for images; for a video, predict its frames as images")
    source = load_source(FLAGS.model, confidence=FLAGS.confidence_signals if FLAGS.confidence else None)
    start = time.perf_counter()
    if kind == "video":
        summary = predict_video(paths[0], source, options)
        count, unit = summary.frames, "frames"
    else:
        root = positionals[0] if os.path.isdir(positionals[0]) else None
        summary = predict_images(paths, source, options, root)
        count, unit = len(summary.written), "images"
    seconds = time.perf_counter() - start
    for entry in summary.written:
        print(_describe(entry))
    print(
        f"Done: {count} {unit} written to {options.out_dir} in {seconds:.1f} s "
        f"({count / max(seconds, 1e-9):.2f} {unit}/s); {len(summary.skipped)} skipped"
        + ("".join(f"\n  skipped {name}: {why}" for name, why in summary.skipped))
    )
    if not summary.written:
        return 1
    return 1 if summary.skipped else 0


def main(argv: Sequence[str] | None = None) -> int:
    # SourceError (a ValueError) names the model path; a missing dataset or stage is a FileNotFoundError.
    return common.run(_predict, FLAGS, __doc__, argv, program="rsn-predict", errors=(ValueError, FileNotFoundError))


console = common.console_entry(main)

if __name__ == "__main__":
    console()
