"""Read the NYU Depth labelled ``.mat`` files (MATLAB v7.3 = HDF5), one frame at a time.

Layout (``../shared/reference/FACTS.md``): h5py sees MATLAB arrays with their axes
reversed, so a 480x640x3xN image array is ``images`` of shape (N, 3, 640, 480);
strings are cell arrays of object references into ``#refs#``, each a uint16
char array. v2 (``nyu_depth_v2_labeled.mat``) has ``instances``, ``sceneTypes``
and filename cells; v1 (``nyu_depth_data_labeled.mat``) does not.

``NyuLabeledMat`` validates the whole structure when it opens a file (header,
version, fields, shapes, dtypes) and raises ``NyuFormatError`` naming the file,
the field and what was expected. It never loads a whole array: ``frame(i)``
reads frame ``i`` only, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import h5py
import numpy as np
from etils import epath

__all__ = [
    "NyuFormatError",
    "NyuFrame",
    "NyuLabeledMat",
    "V1_FILENAME",
    "V2_FILENAME",
    "SPLITS_FILENAME",
    "REQUIRED_FIELDS",
    "decode_cell_strings",
]

V2_FILENAME = "nyu_depth_v2_labeled.mat"
V1_FILENAME = "nyu_depth_data_labeled.mat"
SPLITS_FILENAME = "splits.mat"

# Fields the builder reads, per version, plus the fields that tell the versions apart.
REQUIRED_FIELDS = {
    "v2": ("images", "depths", "labels", "names", "scenes", "instances", "sceneTypes"),
    "v1": ("images", "depths", "labels", "names", "scenes"),
}
_V2_ONLY = ("instances", "sceneTypes", "rawRgbFilenames")


class NyuFormatError(ValueError):
    """A ``.mat`` file is not in the NYU layout; the message names the file and field."""


@dataclasses.dataclass(frozen=True)
class NyuFrame:
    """One labelled frame, in H x W (x C) layout."""

    index: int          # 0-based position in the file
    image: np.ndarray   # (H, W, 3) uint8
    depth: np.ndarray   # (H, W) float32 metres
    labels: np.ndarray  # (H, W) uint16, 0 = unlabelled, k = names[k - 1]
    scene: str


def decode_cell_strings(f: h5py.File, dataset: h5py.Dataset, path: str, field: str) -> list[str]:
    """Decode a MATLAB cell array of strings (object references to uint16 char arrays)."""
    if dataset.dtype != h5py.ref_dtype:
        raise NyuFormatError(f"{path}: field '{field}' should be a cell array of strings (object references), "
                             f"got dtype {dataset.dtype}")
    out = []
    for ref in np.asarray(dataset[()]).ravel():
        try:
            chars = np.asarray(f[ref][()]).ravel()
        except Exception as error:  # a dangling reference in a damaged file
            raise NyuFormatError(f"{path}: field '{field}' holds an unreadable reference ({error})") from error
        if chars.size and not np.issubdtype(chars.dtype, np.integer):
            raise NyuFormatError(f"{path}: field '{field}' should hold char arrays (uint16), got {chars.dtype}")
        out.append(chars.astype(np.uint16).tobytes().decode("utf-16-le"))
    return out


def _matlab_header(path: epath.Path) -> str:
    with path.open("rb") as fh:
        return fh.read(116).decode("latin-1", errors="replace")


class NyuLabeledMat:
    """A validated, open NYU labelled ``.mat`` file. Use as a context manager."""

    def __init__(self, path: str | epath.PathLike, version: str, expected_size: tuple[int, int] | None = (480, 640)):
        if version not in REQUIRED_FIELDS:
            raise ValueError(f"version: expected 'v1' or 'v2', got {version!r}")
        self.path = epath.Path(path)
        self.version = version
        if not self.path.exists():
            raise NyuFormatError(f"{self.path}: file not found")
        header = _matlab_header(self.path)
        if not h5py.is_hdf5(str(self.path)):
            what = header.split(",")[0].strip() if header.startswith("MATLAB") else "not a MATLAB file"
            raise NyuFormatError(
                f"{self.path}: expected a MATLAB v7.3 (HDF5) file as NYU distributes, but this is {what!r}. "
                "A truncated or corrupt download also looks like this: download it again."
            )
        try:
            self._file = h5py.File(str(self.path), "r")
        except OSError as error:
            raise NyuFormatError(f"{self.path}: cannot open as HDF5, the file is truncated or corrupt ({error})") from error
        try:
            self._validate(expected_size)
        except Exception:
            self._file.close()
            raise

    # ---- validation
    def _field(self, name: str) -> h5py.Dataset:
        if name not in self._file:
            raise NyuFormatError(
                f"{self.path}: missing field '{name}' (an NYU {self.version} file has "
                f"{', '.join(REQUIRED_FIELDS[self.version])})"
            )
        return self._file[name]

    def _validate(self, expected_size: tuple[int, int] | None) -> None:
        keys = set(self._file.keys())
        has_v2_fields = any(k in keys for k in _V2_ONLY)
        if self.version == "v1" and has_v2_fields:
            raise NyuFormatError(
                f"{self.path}: this is an NYU Depth v2 file (it has {sorted(k for k in _V2_ONLY if k in keys)}); "
                f"expected v1 ({V1_FILENAME})"
            )
        if self.version == "v2" and not has_v2_fields and {"images", "depths"} <= keys:
            raise NyuFormatError(
                f"{self.path}: this looks like an NYU Depth v1 file (no 'instances' or 'sceneTypes'); "
                f"expected v2 ({V2_FILENAME})"
            )
        for name in REQUIRED_FIELDS[self.version]:
            self._field(name)
        images, depths, labels = self._file["images"], self._file["depths"], self._file["labels"]
        if images.ndim != 4 or images.shape[1] != 3:
            raise NyuFormatError(
                f"{self.path}: field 'images' should have h5py shape (N, 3, W, H) (MATLAB HxWx3xN), got {images.shape}"
            )
        n, _, w, h = images.shape
        if expected_size is not None and (h, w) != tuple(expected_size):
            raise NyuFormatError(
                f"{self.path}: field 'images' holds {h}x{w} frames, expected {expected_size[0]}x{expected_size[1]} "
                f"(h5py shape (N, 3, {expected_size[1]}, {expected_size[0]})), got {images.shape}"
            )
        for name, ds, dtype in (("images", images, np.uint8), ("depths", depths, np.floating), ("labels", labels, np.integer)):
            if not np.issubdtype(ds.dtype, dtype):
                raise NyuFormatError(f"{self.path}: field '{name}' should be {np.dtype(dtype).name if dtype is np.uint8 else dtype.__name__}, got {ds.dtype}")
        for name, ds in (("depths", depths), ("labels", labels)):
            if ds.shape != (n, w, h):
                raise NyuFormatError(
                    f"{self.path}: field '{name}' should have h5py shape {(n, w, h)} to match 'images' {images.shape}, "
                    f"got {ds.shape}"
                )
        self.names = decode_cell_strings(self._file, self._field("names"), str(self.path), "names")
        self.scenes = decode_cell_strings(self._file, self._field("scenes"), str(self.path), "scenes")
        if len(self.scenes) != n:
            raise NyuFormatError(f"{self.path}: field 'scenes' has {len(self.scenes)} entries, expected one per frame ({n})")
        if not self.names:
            raise NyuFormatError(f"{self.path}: field 'names' is empty; expected the class names")
        self.num_frames = n
        self.size = (h, w)

    # ---- access
    def __len__(self) -> int:
        return self.num_frames

    def frame(self, index: int) -> NyuFrame:
        """Read frame ``index`` (0-based) only."""
        if not 0 <= index < self.num_frames:
            raise IndexError(f"{self.path}: frame {index} out of range 0..{self.num_frames - 1}")
        try:
            image = np.ascontiguousarray(self._file["images"][index].transpose(2, 1, 0))
            depth = np.ascontiguousarray(self._file["depths"][index].T, dtype=np.float32)
            labels = np.ascontiguousarray(self._file["labels"][index].T)
        except (OSError, KeyError) as error:
            raise NyuFormatError(f"{self.path}: frame {index} cannot be read, the file is truncated or corrupt ({error})") from error
        if labels.size and labels.max() > len(self.names):
            raise NyuFormatError(
                f"{self.path}: field 'labels' of frame {index} has class id {int(labels.max())}, but 'names' "
                f"lists only {len(self.names)} classes"
            )
        return NyuFrame(index, image, depth, labels.astype(np.uint16), self.scenes[index])

    def frames(self, indices: Sequence[int] | None = None):
        for i in range(self.num_frames) if indices is None else indices:
            yield self.frame(i)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "NyuLabeledMat":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
