"""Depth for photos, folders and videos: batching, calibration, confidence, and files that are
either complete or absent.

The predict CLI (rsn_tf/cli/predict.py) is a thin layer over this module:

* ``find_inputs`` lists what to run on: an image, a folder of images (recursive), or a video;
* ``predict_images`` runs batches of same-sized images through a depth source and writes
  every output (rsn_tf/depth_files.py);
* ``predict_video`` reads a video with OpenCV and writes a colourised depth video and,
  optionally, one 16-bit PNG per frame.

Bad input never stops a run half-way: an unreadable image (or a frame, or a missing sparse
depth file) is skipped with one warning line naming it, and counted in the summary. Every
output is written under a temporary name and renamed into place.

Temporal smoothing (``temporal_smoothing`` > 0, videos only) is an exponential moving average
of log depth over frames: ``ln d'_t = a ln d'_{t-1} + (1 - a) ln d_t``. It is a deviation from
the paper's single-image inference, off by default; it trades flicker for lag on moving scenes.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from rsn_tf.calibration import CalibrationError, KnownDepths, calibrate, known_from_sparse, load_sparse_depth
from rsn_tf.calibration import parse_known as parse_known_points
from rsn_tf.camera import CameraError, resolve_intrinsics
from rsn_tf.colormap import DEFAULT_MAX_DEPTH, colorize_depth
from rsn_tf.depth_files import depth_to_png16, write_depth_files
from rsn_tf.errors import UserError
from rsn_tf.files import atomic_write, atomic_write_json

if TYPE_CHECKING:
    from rsn_tf.depth_sources import DepthSource

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "PredictOptions",
    "PredictSummary",
    "find_inputs",
    "predict_images",
    "predict_video",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


@dataclasses.dataclass
class PredictOptions:
    out_dir: str = "predictions"
    batch_size: int = 4
    max_depth: float = DEFAULT_MAX_DEPTH  # colour-map range
    confidence: bool = False
    intrinsics: dict = dataclasses.field(default_factory=dict)  # --fx/--fy/--cx/--cy overrides
    camera_file: str | None = None
    known: Sequence[str] = ()  # "x,y,metres" strings, pixels of each input
    sparse_depth: str | None = None  # a file for every input, or a dir of <stem>.png/.npy
    calibration: dict = dataclasses.field(default_factory=dict)  # fit_calibration's options
    png_frames: bool = False  # videos: also one 16-bit PNG per frame
    temporal_smoothing: float = 0.0  # videos: EMA weight of the previous frame's log depth
    progress: bool = True

    @property
    def calibrating(self) -> bool:
        return bool(self.known) or bool(self.sparse_depth)


@dataclasses.dataclass
class PredictSummary:
    written: list[dict] = dataclasses.field(default_factory=list)
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (input, reason)
    frames: int = 0  # video frames written

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append((name, reason))
        print(f"warning: skipped {name}: {reason}", file=sys.stderr)


def find_inputs(path: str) -> tuple[str, list[str]]:
    """``("video", [path])`` or ``("images", [files...])``; a folder is searched recursively."""
    if os.path.isdir(path):
        files = sorted(
            os.path.join(root, name)
            for root, _, names in os.walk(path)
            for name in names
            if name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith(".")
        )
        if not files:
            raise UserError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder or below it")
        return "images", files
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file or directory")
    if path.lower().endswith(VIDEO_SUFFIXES):
        return "video", [path]
    return "images", [path]


def _stem(path: str, root: str | None) -> str:
    """Output name: the path below the input folder, with '/' as '__' so folders do not collide."""
    rel = os.path.relpath(path, root) if root else os.path.basename(path)
    return os.path.splitext(rel)[0].replace(os.sep, "__")


def _read_rgb(path: str) -> np.ndarray | None:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _known_for(options: PredictOptions, name: str, height: int, width: int) -> KnownDepths | None:
    """The known depths of one input, in its pixels; CalibrationError names what is wrong."""
    if not options.calibrating:
        return None
    if options.known:
        return parse_known_points(options.known, height, width)
    path = options.sparse_depth
    if os.path.isdir(path):
        base = os.path.splitext(os.path.basename(name))[0]
        candidates = [os.path.join(path, base + ext) for ext in (".png", ".npy")]
        found = [c for c in candidates if os.path.isfile(c)]
        if not found:
            raise CalibrationError(f"--sparse_depth={path}: no {base}.png or {base}.npy for this input")
        path = found[0]
    return known_from_sparse(load_sparse_depth(path), height, width, source=path)


def _calibrated(depth: np.ndarray, options: PredictOptions, name: str) -> tuple[np.ndarray, dict | None]:
    """Calibrate one map if asked; returns it and the calibration record (or None)."""
    known = _known_for(options, name, *depth.shape)
    if known is None:
        return depth, None
    calibrated, fit = calibrate(depth, known, **options.calibration)
    return calibrated, {"input": name, "known_from": known.source, **fit.to_dict()}


def _batches(paths: Sequence[str], batch_size: int, summary: PredictSummary) -> Iterator[list[tuple[str, np.ndarray]]]:
    """Consecutive readable images of equal size, at most ``batch_size`` at a time."""
    batch: list[tuple[str, np.ndarray]] = []
    for path in paths:
        rgb = _read_rgb(path)
        if rgb is None:
            summary.skip(path, "not a readable image (corrupt, truncated or another format)")
            continue
        if batch and (rgb.shape != batch[0][1].shape or len(batch) == batch_size):
            yield batch
            batch = []
        batch.append((path, rgb))
    if batch:
        yield batch


def predict_images(
    paths: Sequence[str], source: DepthSource, options: PredictOptions, root: str | None = None
) -> PredictSummary:
    """Run ``source`` (a DepthSource) on every image and write its files; never stops on a bad one."""
    from tqdm import tqdm

    summary = PredictSummary()
    bar = tqdm(total=len(paths), desc="predict", unit="img", disable=not options.progress, dynamic_ncols=True)
    for batch in _batches(paths, options.batch_size, summary):
        out = source.predict({"image": np.stack([rgb for _, rgb in batch])})
        confidences = out.get("confidence")
        if options.confidence and confidences is None:
            raise UserError(
                f"{source.path}: this model gives no confidence map; export it with rsn-export --include_confidence "
                "or predict with the run dir or .keras file"
            )
        for i, (path, rgb) in enumerate(batch):
            stem = _stem(path, root)
            try:
                depth, record = _calibrated(out["depth"][i], options, path)
                intrinsics = resolve_intrinsics(*depth.shape, path, options.intrinsics, options.camera_file)
            except (CalibrationError, CameraError) as error:
                summary.skip(path, str(error))
                continue
            written = write_depth_files(
                depth,
                options.out_dir,
                stem,
                rgb=rgb,
                intrinsics=intrinsics,
                max_depth=options.max_depth,
                confidence=confidences[i] if options.confidence else None,
            )
            if record is not None:
                written["calibration"] = os.path.join(options.out_dir, f"{stem}_calibration.json")
                atomic_write_json(written["calibration"], record)
            summary.written.append(
                {"image": path, **written, "median_depth_m": float(np.median(depth)), "calibration_fit": record}
            )
        bar.update(len(batch))
    bar.update(len(paths) - bar.n)
    bar.close()
    return summary


def _frame_batches(capture, batch_size: int) -> Iterator[list[np.ndarray]]:
    """RGB frames, ``batch_size`` at a time, until the video ends or a frame cannot be read."""
    batch: list[np.ndarray] = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        batch.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def predict_video(path: str, source: DepthSource, options: PredictOptions) -> PredictSummary:
    """A colourised depth video ``<stem>_depth.mp4`` (and ``<stem>_frames/NNNNNN.png`` in mm)."""
    from tqdm import tqdm

    summary = PredictSummary()
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        summary.skip(path, "not a video OpenCV can open")
        return summary
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    expected = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    stem = _stem(path, None)
    os.makedirs(options.out_dir, exist_ok=True)
    final = os.path.join(options.out_dir, f"{stem}_depth.mp4")
    tmp = os.path.join(options.out_dir, f".{stem}_depth.partial.mp4")
    frames_dir = os.path.join(options.out_dir, f"{stem}_frames")
    writer = None
    previous_log = None
    calibrations = []
    bar = tqdm(total=expected, desc=f"predict {os.path.basename(path)}", unit="frame", disable=not options.progress)
    index = 0
    try:
        for frames in _frame_batches(capture, options.batch_size):
            depths = source.predict({"image": np.stack(frames)})["depth"]
            for depth in depths:
                try:
                    depth, record = _calibrated(depth, options, path)
                except CalibrationError as error:
                    summary.skip(f"{path} frame {index}", str(error))
                    index += 1
                    continue
                if record is not None:
                    calibrations.append({"frame": index, **record})
                if options.temporal_smoothing > 0:
                    log_depth = np.log(np.maximum(depth, 1e-3))
                    if previous_log is not None:
                        a = options.temporal_smoothing
                        log_depth = a * previous_log + (1 - a) * log_depth
                    previous_log = log_depth
                    depth = np.exp(log_depth).astype(np.float32)
                if writer is None:
                    size = (depth.shape[1], depth.shape[0])
                    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                    if not writer.isOpened():
                        raise UserError(f"{final}: OpenCV cannot write mp4 video here")
                writer.write(colorize_depth(depth, options.max_depth))
                if options.png_frames:
                    os.makedirs(frames_dir, exist_ok=True)
                    png = depth_to_png16(depth)
                    atomic_write(os.path.join(frames_dir, f"{index:06d}.png"), lambda t, png=png: cv2.imwrite(t, png))
                summary.frames += 1
                index += 1
                bar.update(1)
    finally:
        bar.close()
        capture.release()
        if writer is not None:
            writer.release()
    if expected and index < expected:
        summary.skip(f"{path} frames {index}..{expected - 1}", f"unreadable: the video ends or breaks at frame {index}")
    if summary.frames == 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        if not summary.skipped:
            summary.skip(path, "the video has no readable frame")
        return summary
    os.replace(tmp, final)
    entry = {"video": path, "depth_video": final, "frames": summary.frames, "fps": fps}
    if options.png_frames:
        entry["png_frames"] = frames_dir
    if calibrations:
        entry["calibration"] = os.path.join(options.out_dir, f"{stem}_calibration.json")
        atomic_write_json(entry["calibration"], {"frames": calibrations})
    summary.written.append(entry)
    return summary
