"""Read and write the NYU Depth labelled ``.mat`` files (MATLAB v7.3 = HDF5), one frame at a time.

Layout (``../shared/reference/FACTS.md``): h5py sees MATLAB arrays with their axes
reversed, so a 480x640x3xN image array is ``images`` of shape (N, 3, 640, 480);
strings are cell arrays of object references into ``#refs#``, each a uint16
char array. v2 (``nyu_depth_v2_labeled.mat``) has ``instances``, ``sceneTypes``
and filename cells; v1 (``nyu_depth_data_labeled.mat``) does not.

``NyuLabeledMat`` validates the whole structure when it opens a file (header,
version, fields, shapes, dtypes) and raises ``NyuFormatError`` naming the file,
the field and what was expected. It never loads a whole array: ``frame(i)``
reads frame ``i`` only, so memory stays flat whatever the file size.

The writer (``write_labeled_mat``, ``write_splits_mat``) produces files in exactly that
layout: the MATLAB userblock header, the keys, transposed shapes, ``MATLAB_class``
attributes and cell strings in ``#refs#``. The synthetic scenes and the builder's
``dummy_data/`` are written with it, so they go through the reader's code path.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Sequence

import h5py
import numpy as np
import scipy.io
from etils import epath

from tfds_nyu.limits import NYU_SIZE

__all__ = [
    "NyuFormatError",
    "NyuFrame",
    "NyuLabeledMat",
    "V1_FILENAME",
    "V2_FILENAME",
    "SPLITS_FILENAME",
    "REQUIRED_FIELDS",
    "V2_ONLY_FIELDS",
    "decode_cell_strings",
    "write_labeled_mat",
    "write_splits_mat",
]

V2_FILENAME = "nyu_depth_v2_labeled.mat"
V1_FILENAME = "nyu_depth_data_labeled.mat"
SPLITS_FILENAME = "splits.mat"

# Fields the builder reads, per version, plus the fields that tell the versions apart.
REQUIRED_FIELDS = {
    "v2": ("images", "depths", "labels", "names", "scenes", "instances", "sceneTypes"),
    "v1": ("images", "depths", "labels", "names", "scenes"),
}
V2_ONLY_FIELDS = ("instances", "sceneTypes", "rawRgbFilenames")


class NyuFormatError(ValueError):
    """A ``.mat`` file is not in the NYU layout; the message names the file and field."""


@dataclasses.dataclass(frozen=True)
class NyuFrame:
    """One labelled frame, in H x W (x C) layout."""

    index: int  # 0-based position in the file
    image: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32 metres
    labels: np.ndarray  # (H, W) uint16, 0 = unlabelled, k = names[k - 1]
    scene: str


def decode_cell_strings(f: h5py.File, dataset: h5py.Dataset, path: str, field: str) -> list[str]:
    """Decode a MATLAB cell array of strings (object references to uint16 char arrays)."""
    if dataset.dtype != h5py.ref_dtype:
        raise NyuFormatError(
            f"{path}: field '{field}' should be a cell array of strings (object references), got dtype {dataset.dtype}"
        )
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

    def __init__(self, path: str | epath.PathLike, version: str, expected_size: tuple[int, int] | None = NYU_SIZE):
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
            raise NyuFormatError(
                f"{self.path}: cannot open as HDF5, the file is truncated or corrupt ({error})"
            ) from error
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
        has_v2_fields = any(k in keys for k in V2_ONLY_FIELDS)
        if self.version == "v1" and has_v2_fields:
            raise NyuFormatError(
                f"{self.path}: this is an NYU Depth v2 file (it has {sorted(k for k in V2_ONLY_FIELDS if k in keys)}); "
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
        for name, ds, dtype in (
            ("images", images, np.uint8),
            ("depths", depths, np.floating),
            ("labels", labels, np.integer),
        ):
            if not np.issubdtype(ds.dtype, dtype):
                raise NyuFormatError(
                    f"{self.path}: field '{name}' should be "
                    f"{np.dtype(dtype).name if dtype is np.uint8 else dtype.__name__}, got {ds.dtype}"
                )
        for name, ds in (("depths", depths), ("labels", labels)):
            if ds.shape != (n, w, h):
                raise NyuFormatError(
                    f"{self.path}: field '{name}' should have h5py shape {(n, w, h)} to match 'images' {images.shape}, "
                    f"got {ds.shape}"
                )
        self.names = decode_cell_strings(self._file, self._field("names"), str(self.path), "names")
        self.scenes = decode_cell_strings(self._file, self._field("scenes"), str(self.path), "scenes")
        if len(self.scenes) != n:
            raise NyuFormatError(
                f"{self.path}: field 'scenes' has {len(self.scenes)} entries, expected one per frame ({n})"
            )
        if not self.names:
            raise NyuFormatError(f"{self.path}: field 'names' is empty; expected the class names")
        self.num_frames = n
        self.size = (h, w)

    # ---- access
    def __len__(self) -> int:
        return self.num_frames

    def frame(self, index: int, check_labels: bool = True) -> NyuFrame:
        """Read frame ``index`` (0-based) only; ``check_labels`` refuses class ids beyond ``names``."""
        if not 0 <= index < self.num_frames:
            raise IndexError(f"{self.path}: frame {index} out of range 0..{self.num_frames - 1}")
        try:
            image = np.ascontiguousarray(self._file["images"][index].transpose(2, 1, 0))
            depth = np.ascontiguousarray(self._file["depths"][index].T, dtype=np.float32)
            labels = np.ascontiguousarray(self._file["labels"][index].T)
        except (OSError, KeyError) as error:
            raise NyuFormatError(
                f"{self.path}: frame {index} cannot be read, the file is truncated or corrupt ({error})"
            ) from error
        if check_labels and labels.size and labels.max() > len(self.names):
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

    def __enter__(self) -> NyuLabeledMat:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------------------
# MATLAB v7.3 writer
# --------------------------------------------------------------------------------------


def _matlab_userblock(path: epath.Path) -> None:
    """Write the 128-byte MATLAB v7.3 header into the HDF5 userblock, as MATLAB does."""
    created = datetime.datetime(2011, 1, 1).strftime("%a %b %d %H:%M:%S %Y")
    text = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {created} HDF5 schema 1.00 ."
    header = text.encode("ascii").ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as fh:  # epath has no read-write mode
        fh.write(header)


class _CellWriter:
    """Writes MATLAB cell arrays of strings: object references to uint16 char arrays in #refs#."""

    def __init__(self, f: h5py.File):
        self.refs = f.require_group("#refs#")
        self.count = 0

    def _key(self) -> str:
        n, key = self.count, ""
        while True:
            key = chr(ord("a") + n % 26) + key
            n = n // 26 - 1
            if n < 0:
                break
        self.count += 1
        return key

    def string(self, text: str) -> h5py.Reference:
        chars = np.frombuffer(text.encode("utf-16-le"), dtype="<u2").reshape(-1, 1)
        ds = self.refs.create_dataset(self._key(), data=chars)
        ds.attrs["MATLAB_class"] = np.bytes_("char")
        ds.attrs["MATLAB_int_decode"] = np.int32(2)
        return ds.ref

    def cell(self, f: h5py.File, name: str, strings: Sequence[str]) -> None:
        ds = f.create_dataset(name, (1, len(strings)), dtype=h5py.ref_dtype)
        ds[0, :] = [self.string(s) for s in strings]
        ds.attrs["MATLAB_class"] = np.bytes_("cell")


def write_labeled_mat(
    path: str | epath.PathLike,
    version: str,
    frames: Iterable[tuple[object, str, str]],
    num_frames: int,
    names: Sequence[str],
    size: tuple[int, int] = NYU_SIZE,
    compression: int = 1,
) -> None:
    """Stream ``num_frames`` (frame, scene name, scene type) into an NYU-layout ``.mat`` file.

    A frame has ``image`` (H, W, 3) uint8, ``depth`` and ``raw_depth`` (H, W) float32 metres,
    ``labels`` (H, W) integers indexing ``label_names`` (1-based, 0 = unlabelled) and
    ``instances`` (H, W) uint8, as ``tfds_nyu.synthetic.RenderedFrame`` has.

    ``frame.labels`` index ``frame.label_names``; they are renumbered into ``names``
    (1-based), the file's class table. A class the table lacks becomes unlabelled (0),
    as objects outside a release's vocabulary are in NYU. Frames are written one at a time, so memory
    stays flat whatever ``num_frames`` is.
    """
    path = epath.Path(path)
    h, w = size
    lookup = {n: i + 1 for i, n in enumerate(names)}
    gz = {"compression": "gzip", "compression_opts": compression}  # gzip level: 1 is fast, 9 small
    with h5py.File(str(path), "w", userblock_size=512) as f:
        cells = _CellWriter(f)
        f.create_group("#subsystem#").create_dataset("MCOS", data=np.zeros((1, 2), np.uint32))
        images = f.create_dataset("images", (num_frames, 3, w, h), np.uint8, chunks=(1, 3, w, h), **gz)
        depths = f.create_dataset("depths", (num_frames, w, h), np.float32, chunks=(1, w, h), **gz)
        raw_depths = f.create_dataset("rawDepths", (num_frames, w, h), np.float32, chunks=(1, w, h), **gz)
        labels = f.create_dataset("labels", (num_frames, w, h), np.uint16, chunks=(1, w, h), **gz)
        instances = None
        if version == "v2":
            instances = f.create_dataset("instances", (num_frames, w, h), np.uint8, chunks=(1, w, h), **gz)
        for ds, cls in ((images, "uint8"), (depths, "single"), (raw_depths, "single"), (labels, "uint16")):
            ds.attrs["MATLAB_class"] = np.bytes_(cls)
        if instances is not None:
            instances.attrs["MATLAB_class"] = np.bytes_("uint8")
        scenes, scene_types = [], []
        written = 0
        for i, (frame, scene, scene_type) in enumerate(frames):
            if i >= num_frames:
                raise ValueError(f"frames: more than num_frames={num_frames} frames given")
            remap = np.array([0] + [lookup.get(n, 0) for n in frame.label_names], np.uint16)
            images[i] = frame.image.transpose(2, 1, 0)
            depths[i] = frame.depth.T
            raw_depths[i] = frame.raw_depth.T
            labels[i] = remap[frame.labels].T
            if instances is not None:
                instances[i] = frame.instances.T
            scenes.append(scene)
            scene_types.append(scene_type)
            written += 1
        if written != num_frames:
            raise ValueError(f"frames: got {written} frames, expected num_frames={num_frames}")
        accel = f.create_dataset(
            "accelData", data=np.tile([[0.0], [-9.8], [0.1], [0.0]], (1, num_frames)).astype(np.float32)
        )
        accel.attrs["MATLAB_class"] = np.bytes_("single")
        cells.cell(f, "names", list(names))
        cells.cell(f, "scenes", scenes)
        ids = f.create_dataset("namesToIds", data=np.array([[3707764736, 2, 1, 1, 1, 1]], np.uint32))
        ids.attrs["MATLAB_class"] = np.bytes_("containers.Map")
        ids.attrs["MATLAB_object_decode"] = np.int32(3)
        if version == "v2":
            cells.cell(f, "sceneTypes", scene_types)
            cells.cell(f, "rawRgbFilenames", [f"{s}/r-{i:06d}.ppm" for i, s in enumerate(scenes)])
            cells.cell(f, "rawDepthFilenames", [f"{s}/d-{i:06d}.pgm" for i, s in enumerate(scenes)])
    _matlab_userblock(path)


def write_splits_mat(path: str | epath.PathLike, train: Sequence[int], test: Sequence[int]) -> None:
    """The official-split file layout: MATLAB v5, ``trainNdxs`` / ``testNdxs`` 1-based uint16 columns."""
    scipy.io.savemat(
        str(path),
        {
            "trainNdxs": np.asarray(train, np.uint16).reshape(-1, 1),
            "testNdxs": np.asarray(test, np.uint16).reshape(-1, 1),
        },
        format="5",
    )
