"""Read (and write) RGB-D folders: your own frames, laid out the way most RGB-D captures are.

Layout (the one of ``../shared/data/real_rgbd``)::

    DIR/
      rgb/<stem>.png|.jpg        8-bit colour
      depth/<stem>.png           16-bit depth, ``depth_scale`` units per metre (1000 = millimetres);
                                 0 = no reading
      depth/<stem>.npy           or float depth in metres (0, NaN or inf = no reading)
      labels/<stem>.png          optional uint8/uint16 class ids, 0 = unlabelled
      cameras.json               optional {"<stem>": {"fx":..,"fy":..,"cx":..,"cy":..}, ...}

The split comes from exactly one of:

* ``train/`` and ``test/`` subfolders (each with the layout above);
* ``train.txt`` and ``test.txt``, one stem per line: the explicit list (every frame in one of them);
* a contiguous block at the end of a sequence, asked for with ``scan_folder``'s
  ``holdout_last=N`` (the last N frames) or ``holdout_fraction=p`` (the last round(n * p)
  of the n frames, halves rounded up, at least 1 and at most n - 1), in file-name order
  (``stem_order``: digit runs compare as numbers, so zero-padded names keep their order and
  ``f2`` comes before ``f10``). Neighbouring frames of a video are nearly identical, so a
  sequence should be tested on a block the model has not seen, not on frames picked at random;
* else (the builder) a deterministic hash of each stem (``tfds_nyu.splits.hash_holdout``).

Asking for a hold-out in a folder that has subfolders or lists, or for both ``holdout_last``
and ``holdout_fraction``, raises ``RgbdFolderError`` naming the options.

Frames may differ in size. ``fit_to_size`` brings each to the configured size by scaling
it to *cover* that size (aspect ratio kept), then centre-cropping; the RGB uses area
(down) or bilinear (up) resampling, depth and labels nearest-neighbour (so no depth is
invented across a hole or an edge), and the intrinsics are scaled and shifted with it.

Every problem (a depth without an rgb, sizes that differ, a non-16-bit depth PNG, an
unreadable file) raises ``RgbdFolderError`` naming the file.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import math
import numbers
import re
from collections.abc import Iterable

import cv2
import numpy as np
from etils import epath

__all__ = [
    "Camera",
    "FolderFrame",
    "RgbdFolderError",
    "check_holdout",
    "fit_to_size",
    "read_cameras",
    "read_frame",
    "scan_folder",
    "sequence_holdout",
    "stem_order",
    "write_cameras",
    "write_frame",
]

RGB_SUFFIXES = (".png", ".jpg", ".jpeg")
DEPTH_SUFFIXES = (".png", ".npy")
SPLIT_NAMES = ("train", "test")


class RgbdFolderError(ValueError):
    """An RGB-D folder or one of its files is not usable; the message names the file."""


@dataclasses.dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics in pixels of the image they belong to (pixel centres at integer coordinates)."""

    fx: float
    fy: float
    cx: float
    cy: float

    def as_array(self) -> np.ndarray:
        return np.array([self.fx, self.fy, self.cx, self.cy], np.float32)


@dataclasses.dataclass(frozen=True)
class FolderFrame:
    """Where one frame's files are. ``split`` is None when the folder does not say."""

    stem: str
    rgb: epath.Path
    depth: epath.Path
    labels: epath.Path | None
    split: str | None
    camera: Camera | None


def _by_stem(folder: epath.Path, suffixes: tuple[str, ...]) -> dict[str, epath.Path]:
    found: dict[str, epath.Path] = {}
    if not folder.exists():
        return found
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in suffixes or path.name.startswith("."):
            continue
        if path.stem in found:
            raise RgbdFolderError(f"{path}: two files for stem '{path.stem}' ({found[path.stem].name} and {path.name})")
        found[path.stem] = path
    return found


def read_cameras(root: epath.Path) -> dict[str, Camera]:
    """``cameras.json`` of ``root`` (empty when absent). Entries without fx/fy/cx/cy are skipped."""
    path = root / "cameras.json"
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RgbdFolderError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(raw, dict):
        raise RgbdFolderError(f"{path}: expected an object mapping stems to intrinsics")
    cameras = {}
    for stem, entry in raw.items():
        if stem.startswith("_") or not isinstance(entry, dict) or not {"fx", "fy", "cx", "cy"} <= set(entry):
            continue
        try:
            cameras[stem] = Camera(*(float(entry[k]) for k in ("fx", "fy", "cx", "cy")))
        except (TypeError, ValueError) as error:
            raise RgbdFolderError(f"{path}: stem '{stem}': fx, fy, cx, cy must be numbers ({error})") from error
    return cameras


def _natural_key(stem: str) -> tuple:
    parts = re.split(r"(\d+)", stem)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), stem


def stem_order(stems: Iterable[str]) -> list[str]:
    """``stems`` in file-name order: digit runs compare as numbers (``f2`` before ``f10``).

    Zero-padded names (``frame_000990``) come out exactly as plain sorting puts them.
    """
    return sorted(stems, key=_natural_key)


def check_holdout(holdout_last: int | None = None, holdout_fraction: float | None = None) -> None:
    """Raise ``RgbdFolderError`` naming the option for a hold-out that no folder can satisfy."""
    if holdout_last is not None and holdout_fraction is not None:
        raise RgbdFolderError(
            f"holdout_last={holdout_last} and holdout_fraction={holdout_fraction}: give one way to hold out "
            "the end of a sequence, not both"
        )
    if holdout_last is not None and (
        isinstance(holdout_last, bool) or not isinstance(holdout_last, numbers.Integral) or holdout_last < 1
    ):
        raise RgbdFolderError(
            f"holdout_last: must be a whole number of frames, at least 1 (the last N in file-name order), "
            f"got {holdout_last!r}"
        )
    if holdout_fraction is not None and (
        isinstance(holdout_fraction, bool)
        or not isinstance(holdout_fraction, numbers.Real)
        or not 0 < holdout_fraction < 1
    ):
        raise RgbdFolderError(
            f"holdout_fraction: must be in (0, 1) (the share of the frames held out at the end, in file-name "
            f"order), got {holdout_fraction!r}"
        )


def sequence_holdout(
    stems: Iterable[str], holdout_last: int | None = None, holdout_fraction: float | None = None, where: str = ""
) -> list[str]:
    """The held-out block of a sequence: its last stems in file-name order (``stem_order``), in that order.

    ``holdout_last=N``: the last N (1 <= N < number of frames). ``holdout_fraction=p`` (0 < p < 1):
    the last round(n * p) of the n frames, halves rounded up (p as written: 10 frames at 0.25 hold
    out 3), at least 1 and at most n - 1. Neither: nothing. ``where`` prefixes the error messages.
    """
    check_holdout(holdout_last, holdout_fraction)
    ordered = stem_order(set(stems))
    n = len(ordered)
    if holdout_last is not None:
        if holdout_last >= n:
            raise RgbdFolderError(
                f"{where}holdout_last={holdout_last}: there are {n} frames; hold out fewer than {n} so that "
                "some are left to train on"
            )
        k = int(holdout_last)
    elif holdout_fraction is not None:
        if n < 2:
            raise RgbdFolderError(
                f"{where}holdout_fraction={holdout_fraction}: a hold-out needs at least 2 frames (one to test, "
                f"one to train on), found {n}"
            )
        share = decimal.Decimal(str(holdout_fraction)) * n  # the fraction as written, so 0.25 * 10 is 2.5
        k = min(n - 1, max(1, int(share.to_integral_value(rounding=decimal.ROUND_HALF_UP))))
    else:
        return []
    return ordered[n - k :]


def _scan_one(root: epath.Path, split: str | None, cameras: dict[str, Camera]) -> list[FolderFrame]:
    rgb = _by_stem(root / "rgb", RGB_SUFFIXES)
    depth = _by_stem(root / "depth", DEPTH_SUFFIXES)
    labels = _by_stem(root / "labels", (".png",))
    if not rgb and not depth:
        raise RgbdFolderError(
            f"{root}: no frames found; expected rgb/<stem>.png|jpg and depth/<stem>.png|npy "
            "(see the rgbd_folder README)"
        )
    unpaired = [
        (depth, set(depth) - set(rgb), f"depth without an rgb (expected a file in {root / 'rgb'})"),
        (rgb, set(rgb) - set(depth), f"rgb without a depth (expected a file in {root / 'depth'})"),
        (labels, set(labels) - set(rgb), "labels without an rgb and depth of the same stem"),
    ]
    for files, stems, problem in unpaired:
        if stems:
            more = f" (and {len(stems) - 1} more)" if len(stems) > 1 else ""
            raise RgbdFolderError(f"{files[min(stems)]}: {problem}{more}")
    return [FolderFrame(s, rgb[s], depth[s], labels.get(s), split, cameras.get(s)) for s in sorted(rgb)]


def scan_folder(
    root: str | epath.PathLike, holdout_last: int | None = None, holdout_fraction: float | None = None
) -> list[FolderFrame]:
    """Every frame of the folder, with its split where the folder (or a hold-out) gives one. Checks pairing only.

    ``holdout_last`` / ``holdout_fraction`` (at most one): the last frames in file-name order
    are test and the rest train (``sequence_holdout``); the folder must then have no other split.
    """
    root = epath.Path(root)
    check_holdout(holdout_last, holdout_fraction)
    if not root.is_dir():
        raise RgbdFolderError(f"{root}: not a directory")
    cameras = read_cameras(root)
    if holdout_last is not None or holdout_fraction is not None:
        option, value = (
            ("holdout_last", holdout_last) if holdout_last is not None else ("holdout_fraction", holdout_fraction)
        )
        given = [f"{s}/" for s in SPLIT_NAMES if (root / s).is_dir()]
        given = given or [f"{s}.txt" for s in SPLIT_NAMES if (root / f"{s}.txt").exists()]
        if given:
            raise RgbdFolderError(
                f"{root}: {option}={value} holds out the end of the sequence, but the folder already gives its "
                f"split ({' and '.join(given)}): give one way to split, not both (drop {option}, or remove "
                f"{' and '.join(given)})"
            )
    if any((root / s).is_dir() for s in SPLIT_NAMES):
        frames = []
        for split in SPLIT_NAMES:
            if (root / split).is_dir():
                frames += _scan_one(root / split, split, {**cameras, **read_cameras(root / split)})
        stems = [f.stem for f in frames]
        if len(set(stems)) != len(stems):
            dup = sorted({s for s in stems if stems.count(s) > 1})
            raise RgbdFolderError(f"{root}: stems in both train/ and test/: {dup[:5]}")
        return frames
    frames = _scan_one(root, None, cameras)
    lists = {s: root / f"{s}.txt" for s in SPLIT_NAMES}
    if any(p.exists() for p in lists.values()):
        assigned: dict[str, str] = {}
        for split, path in lists.items():
            names = [line.strip() for line in path.read_text().splitlines()] if path.exists() else []
            for stem in filter(None, names):
                if stem in assigned:
                    raise RgbdFolderError(f"{path}: stem '{stem}' is also in {assigned[stem]}.txt")
                assigned[stem] = split
        known = {f.stem for f in frames}
        unknown = sorted(set(assigned) - known)
        if unknown:
            raise RgbdFolderError(f"{root}: split files name stems with no frame: {unknown[:5]}")
        frames = [dataclasses.replace(f, split=assigned.get(f.stem)) for f in frames]
        unassigned = [f.stem for f in frames if f.split is None]
        if unassigned:
            raise RgbdFolderError(f"{root}: frames in neither train.txt nor test.txt: {unassigned[:5]}")
    elif holdout_last is not None or holdout_fraction is not None:
        test = set(sequence_holdout([f.stem for f in frames], holdout_last, holdout_fraction, where=f"{root}: "))
        frames = [dataclasses.replace(f, split="test" if f.stem in test else "train") for f in frames]
    return frames


def _imread(path: epath.Path, flags: int) -> np.ndarray:
    data = np.frombuffer(path.read_bytes(), np.uint8)
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise RgbdFolderError(f"{path}: unreadable image (empty, truncated or not a PNG/JPEG)")
    return image


def read_frame(frame: FolderFrame, depth_scale: float = 1000.0) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(rgb uint8 HxWx3, depth float32 metres with 0 = no reading, labels uint16 or None)."""
    rgb = _imread(frame.rgb, cv2.IMREAD_COLOR)[..., ::-1]
    if frame.depth.suffix.lower() == ".npy":
        try:
            with frame.depth.open("rb") as fh:
                depth = np.load(fh, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise RgbdFolderError(f"{frame.depth}: unreadable .npy depth ({error})") from error
        if depth.ndim == 3 and depth.shape[-1] == 1:
            depth = depth[..., 0]
        if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
            raise RgbdFolderError(
                f"{frame.depth}: a .npy depth must be a 2-D float array in metres, got {depth.dtype} {depth.shape}"
            )
        depth = depth.astype(np.float32)
    else:
        raw = _imread(frame.depth, cv2.IMREAD_UNCHANGED)
        if raw.dtype != np.uint16 or raw.ndim != 2:
            kind = f"{raw.dtype.itemsize * 8}-bit" + (f" with {raw.shape[2]} channels" if raw.ndim == 3 else "")
            raise RgbdFolderError(
                f"{frame.depth}: depth PNGs must be single-channel 16-bit ({depth_scale:g} per metre), "
                f"this one is {kind}; an 8-bit depth has lost its scale: export the sensor's 16-bit depth"
            )
        depth = raw.astype(np.float32) / np.float32(depth_scale)
    with np.errstate(invalid="ignore"):
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0.0).astype(np.float32)
    labels = None
    if frame.labels is not None:
        labels = _imread(frame.labels, cv2.IMREAD_UNCHANGED)
        if labels.ndim != 2 or labels.dtype not in (np.uint8, np.uint16):
            raise RgbdFolderError(f"{frame.labels}: labels must be a single-channel 8- or 16-bit PNG of class ids")
        labels = labels.astype(np.uint16)
    for name, path, array in (("depth", frame.depth, depth), ("labels", frame.labels, labels)):
        if array is not None and array.shape != rgb.shape[:2]:
            raise RgbdFolderError(
                f"{path}: {name} is {array.shape[0]}x{array.shape[1]} but {frame.rgb} is "
                f"{rgb.shape[0]}x{rgb.shape[1]}; an RGB-D frame's files must be registered to the same size"
            )
    return np.ascontiguousarray(rgb), depth, labels


def fit_to_size(
    rgb: np.ndarray,
    depth: np.ndarray,
    labels: np.ndarray | None,
    camera: Camera | None,
    size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Camera | None]:
    """Scale to cover ``size`` (H, W) keeping the aspect ratio, then centre-crop; intrinsics follow.

    With scale s and crop offset (top, left), a pixel centre x maps to (x + 0.5) * s - 0.5 - left
    (OpenCV's resize convention), so cx' = (cx + 0.5) * s - 0.5 - left and fx' = fx * s.
    """
    h, w = depth.shape
    out_h, out_w = size
    s = max(out_h / h, out_w / w)
    big_h, big_w = max(out_h, math.ceil(h * s - 1e-6)), max(out_w, math.ceil(w * s - 1e-6))
    top, left = (big_h - out_h) // 2, (big_w - out_w) // 2
    if (big_h, big_w) != (h, w):
        rgb = cv2.resize(rgb, (big_w, big_h), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        depth = cv2.resize(depth, (big_w, big_h), interpolation=cv2.INTER_NEAREST)
        if labels is not None:
            labels = cv2.resize(labels, (big_w, big_h), interpolation=cv2.INTER_NEAREST)
    crop = (slice(top, top + out_h), slice(left, left + out_w))
    rgb, depth = np.ascontiguousarray(rgb[crop]), np.ascontiguousarray(depth[crop])
    labels = None if labels is None else np.ascontiguousarray(labels[crop])
    if camera is not None:
        sx, sy = big_w / w, big_h / h
        camera = Camera(
            camera.fx * sx, camera.fy * sy, (camera.cx + 0.5) * sx - 0.5 - left, (camera.cy + 0.5) * sy - 0.5 - top
        )
    return rgb, depth, labels, camera


# --------------------------------------------------------------------------------------
# Writer: the same layout, for tests, dummy data and converting other datasets.
# --------------------------------------------------------------------------------------


def write_frame(
    root: str | epath.PathLike,
    stem: str,
    rgb: np.ndarray,
    depth: np.ndarray,
    labels: np.ndarray | None = None,
    depth_scale: float = 1000.0,
    depth_format: str = "png",
    rgb_format: str = "png",
) -> None:
    """Write one frame: ``depth`` in metres (0 = no reading) as a 16-bit PNG or a float .npy."""
    root = epath.Path(root)
    for sub in ("rgb", "depth") + (("labels",) if labels is not None else ()):
        (root / sub).mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(f".{rgb_format}", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise RgbdFolderError(f"{root}/rgb/{stem}.{rgb_format}: encoding failed")
    (root / "rgb" / f"{stem}.{rgb_format}").write_bytes(buf.tobytes())
    if depth_format == "npy":
        with (root / "depth" / f"{stem}.npy").open("wb") as fh:
            np.save(fh, depth.astype(np.float32))
    else:
        scaled = np.round(np.nan_to_num(depth, nan=0.0, posinf=0.0) * depth_scale)
        if scaled.max(initial=0) > np.iinfo(np.uint16).max:
            raise RgbdFolderError(f"{stem}: depth {depth.max():.2f} m overflows 16 bits at {depth_scale:g} per metre")
        (root / "depth" / f"{stem}.png").write_bytes(cv2.imencode(".png", scaled.astype(np.uint16))[1].tobytes())
    if labels is not None:
        (root / "labels" / f"{stem}.png").write_bytes(cv2.imencode(".png", labels.astype(np.uint16))[1].tobytes())


def write_cameras(root: str | epath.PathLike, cameras: dict[str, Camera]) -> None:
    """``cameras.json`` for ``root``."""
    payload = {stem: dataclasses.asdict(c) for stem, c in cameras.items()}
    (epath.Path(root) / "cameras.json").write_text(json.dumps(payload, indent=1))
