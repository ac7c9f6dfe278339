"""Read (and write) the NYU Depth v2 h5 tree of sparse-to-dense / FastDepth, the most mirrored NYU form.

Layout::

    ROOT/                      (often named nyudepthv2/)
      train/<scene>/<n>.h5     ~47k frames from the raw sequences, one folder per scene
      val/official/<n>.h5      the 654 official test frames

Each file holds ``rgb``: uint8 (3, 480, 640), channels first, and ``depth``: float32
(480, 640) in metres (in-painted, so no holes, though 0 is treated as no reading). There
are no semantic labels, so region support comes from a label-free mode
(``tfds_nyu.label_free``).

``scan_h5_tree`` only lists paths; ``read_h5_frame`` opens one file at a time, so
reading a tree of any size keeps memory flat.
"""

from __future__ import annotations

import dataclasses
import io
import os

import h5py
import numpy as np
from etils import epath

__all__ = ["H5Frame", "NyuH5Error", "find_h5_root", "read_h5_frame", "scan_h5_tree", "write_h5_frame"]


class NyuH5Error(ValueError):
    """The h5 tree or one of its files is not in the sparse-to-dense layout; the message names it."""


@dataclasses.dataclass(frozen=True)
class H5Frame:
    """One file of the tree: ``part`` is 'train' or 'val', ``scene`` its folder name."""

    part: str
    scene: str
    path: epath.Path

    @property
    def key(self) -> str:
        return f"{self.part}/{self.scene}/{self.path.stem}"


def find_h5_root(directory: str | epath.PathLike) -> epath.Path | None:
    """``directory`` or its ``nyudepthv2/`` child when it holds ``train/`` and ``val/``; else None."""
    directory = epath.Path(directory)
    for candidate in (directory, directory / "nyudepthv2"):
        if (candidate / "train").is_dir() and (candidate / "val").is_dir():
            return candidate
    return None


def _sort_key(path: epath.Path):
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.stem)


def scan_h5_tree(root: str | epath.PathLike) -> list[H5Frame]:
    """Every ``.h5`` file of the tree, scenes in name order, frames in numeric order."""
    root = epath.Path(root)
    frames: list[H5Frame] = []
    for part in ("train", "val"):
        part_dir = root / part
        if not part_dir.is_dir():
            raise NyuH5Error(f"{root}: missing '{part}/' (the h5 tree has train/<scene>/*.h5 and val/official/*.h5)")
        scenes = sorted(p for p in part_dir.iterdir() if p.is_dir())
        stray = sorted(p.name for p in part_dir.iterdir() if p.suffix == ".h5")
        if stray:
            raise NyuH5Error(f"{part_dir}: .h5 files must sit in a scene folder, found {stray[:3]} directly here")
        for scene in scenes:
            files = sorted((p for p in scene.iterdir() if p.suffix == ".h5"), key=_sort_key)
            frames += [H5Frame(part, scene.name, p) for p in files]
        if not any(f.part == part for f in frames):
            raise NyuH5Error(f"{part_dir}: no .h5 files found")
    return frames


def read_h5_frame(path: str | epath.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(rgb uint8 HxWx3, depth float32 metres, 0 = no reading) of one h5 file."""
    path = epath.Path(path)
    try:
        # h5py opens local paths only; a file on a cloud bucket (a Beam build on a cluster) is read
        # whole (one frame, ~1.5 MB) and opened from memory.
        source = str(path) if os.path.exists(str(path)) else io.BytesIO(path.read_bytes())
        with h5py.File(source, "r") as f:
            for field in ("rgb", "depth"):
                if field not in f:
                    raise NyuH5Error(f"{path}: missing dataset '{field}' (expected 'rgb' and 'depth')")
            rgb, depth = f["rgb"], f["depth"]
            if rgb.ndim != 3 or rgb.shape[0] != 3 or rgb.dtype != np.uint8:
                raise NyuH5Error(f"{path}: 'rgb' must be uint8 (3, H, W), got {rgb.dtype} {rgb.shape}")
            if depth.shape != rgb.shape[1:] or not np.issubdtype(depth.dtype, np.floating):
                raise NyuH5Error(
                    f"{path}: 'depth' must be float {rgb.shape[1:]} (metres) to match 'rgb', "
                    f"got {depth.dtype} {depth.shape}"
                )
            image = np.ascontiguousarray(rgb[()].transpose(1, 2, 0))
            metres = depth[()].astype(np.float32)
    except OSError as error:
        raise NyuH5Error(f"{path}: cannot read as HDF5, the file is truncated or corrupt ({error})") from error
    with np.errstate(invalid="ignore"):
        metres = np.where(np.isfinite(metres) & (metres > 0), metres, 0.0).astype(np.float32)
    return image, metres


def write_h5_frame(path: str | epath.PathLike, rgb: np.ndarray, depth: np.ndarray) -> None:
    """Write one frame in the sparse-to-dense layout (``rgb`` HxWx3 uint8, ``depth`` HxW metres)."""
    path = epath.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(str(path), "w") as f:
        f.create_dataset("rgb", data=np.ascontiguousarray(np.asarray(rgb, np.uint8).transpose(2, 0, 1)))
        f.create_dataset("depth", data=np.asarray(depth, np.float32))
