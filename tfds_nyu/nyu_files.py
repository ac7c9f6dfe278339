"""Find the user's NYU files by content, say exactly what is missing, and try the original host briefly.

The original NYU host (``horatio.cs.nyu.edu``) has refused connections since 2023, so
users fetch the labelled ``.mat`` files and ``splits.mat`` from community mirrors, often
renamed (``nyu_depth_v2_labeled (1).mat``) and sometimes truncated. So:

* ``locate`` recognises each file in the manual dir by what it holds (the HDF5 layout of
  the labelled sets, v1 or v2, their frame count; the ``trainNdxs``/``testNdxs`` fields of
  the split file), whatever it is called, and a truncated or broken file that is needed
  fails there, before any work, naming the file and what is wrong;
* ``MissingNyuFilesError`` lists every missing file with its expected size and hash (where
  known), where to put it and the command to run again;
* ``probe`` tries a URL with a short timeout, so an opt-in download never hangs on a dead host.
"""

from __future__ import annotations

import dataclasses
import logging
import urllib.error
import urllib.request

import h5py
from etils import epath

from tfds_nyu import nyu_mat, splits

__all__ = [
    "EXPECTED",
    "NYU_HOST_STATUS",
    "ExpectedFile",
    "MissingNyuFilesError",
    "identify",
    "locate",
    "scan",
    "missing_files_message",
    "probe",
]

log = logging.getLogger(__name__)

NYU_HOST_STATUS = (
    "The original NYU host (horatio.cs.nyu.edu) has refused connections since 2023. Get the files from a "
    "mirror (the academic torrent of the labelled set, or a Kaggle copy); any file name works, since files "
    "are recognised by their content."
)


@dataclasses.dataclass(frozen=True)
class ExpectedFile:
    key: str
    filename: str
    what: str
    url: str
    size: int | None  # bytes, where verified
    sha256: str | None  # where verified
    frames: int | None = None


EXPECTED = {
    "v2": ExpectedFile(
        "v2",
        nyu_mat.V2_FILENAME,
        "NYU Depth v2 labelled set, MATLAB v7.3 (HDF5)",
        "http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/nyu_depth_v2_labeled.mat",
        2_972_037_809,
        None,
        1449,
    ),
    "v1": ExpectedFile(
        "v1",
        nyu_mat.V1_FILENAME,
        "NYU Depth v1 labelled set, MATLAB v7.3 (HDF5)",
        "http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_data_labeled.mat",
        None,
        None,
        2284,
    ),
    "splits": ExpectedFile(
        "splits",
        nyu_mat.SPLITS_FILENAME,
        "official v2 train/test split, MATLAB v5 (trainNdxs 795, testNdxs 654)",
        "http://horatio.cs.nyu.edu/mit/silberman/indoor_seg_sup/splits.mat",
        2626,
        "6e081404491a8bfba2f066beaa9713ef6046f9007aa5f799f2a350506a580cee",
    ),
}

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class MissingNyuFilesError(FileNotFoundError):
    """Files a config needs are not in the manual dir; the message says which, how big, and what to run."""


def _sniff(path: epath.Path) -> str | None:
    """'hdf5', 'matlab5' or None, from the first bytes (HDF5 may sit after MATLAB's 512-byte userblock)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(528)
    except OSError:
        return None
    if head.startswith(_HDF5_SIGNATURE) or head[512:520] == _HDF5_SIGNATURE:
        return "hdf5"
    if head.startswith(b"MATLAB 5.0 MAT-file"):
        return "matlab5"
    return None


def identify(path: str | epath.PathLike) -> str | None:
    """'v2', 'v1' or 'splits' from the file's content, or None when it is not an NYU file.

    Raises ``nyu_mat.NyuFormatError`` (a ``ValueError`` naming the file) when the file claims to be
    one of them (its signature and fields say so) but is truncated or broken.
    """
    path = epath.Path(path)
    kind = _sniff(path)
    if kind == "matlab5":
        try:
            splits.read_official_split(path)
        except ValueError as error:
            if "missing field" in str(error):
                return None
            raise nyu_mat.NyuFormatError(str(error)) from error
        return "splits"
    if kind != "hdf5":
        return None
    try:
        with h5py.File(str(path), "r") as f:
            keys = set(f.keys())
    except OSError as error:
        raise nyu_mat.NyuFormatError(
            f"{path}: an HDF5 file that cannot be opened, it is truncated or corrupt ({error}); "
            f"a complete {EXPECTED['v2'].filename} is {EXPECTED['v2'].size:,} bytes, this one is "
            f"{path.stat().length:,}. Download it again."
        ) from error
    if not {"images", "depths", "labels"} <= keys:
        return None
    version = "v2" if any(k in keys for k in nyu_mat.V2_ONLY_FIELDS) else "v1"
    with nyu_mat.NyuLabeledMat(path, version) as mat:  # validates every field; raises naming the file
        expected = EXPECTED[version].frames
        if len(mat) != expected:
            log.warning("%s: an NYU %s file with %d frames (the release has %d)", path, version, len(mat), expected)
        # Reading the last frame touches the end of the file: a truncated copy fails here, not hours later.
        # (Its values are checked when it is built, like every frame's: a bad value is one frame's
        # problem, which --skip_bad_frames may skip; a truncated file is the whole file's.)
        mat.frame(len(mat) - 1, check_labels=False)
    return version


def _candidates(directory: epath.Path) -> list[epath.Path]:
    """Files in ``directory`` and one level below, canonical NYU names first."""
    files = [p for p in directory.iterdir() if p.is_file()]
    for sub in directory.iterdir():
        if sub.is_dir():
            files += [p for p in sub.iterdir() if p.is_file()]
    canonical = {e.filename for e in EXPECTED.values()}
    return sorted(files, key=lambda p: (p.name not in canonical, str(p)))


def scan(
    directory: str | epath.PathLike, needed: list[str]
) -> tuple[dict[str, epath.Path], list[str], list[Exception]]:
    """(found paths per needed key, names of other files, errors of broken NYU-looking files)."""
    directory = epath.Path(directory)
    found: dict[str, epath.Path] = {}
    others: list[str] = []
    broken: list[Exception] = []
    if not directory.is_dir():
        return found, others, broken
    for path in _candidates(directory):
        if set(needed) <= set(found):
            break
        try:
            key = identify(path)
        except nyu_mat.NyuFormatError as error:
            broken.append(error)
            continue
        if key in needed and key not in found:
            found[key] = path
            log.info("%s: recognised as %s", path, key)
        else:
            others.append(path.name)
    return found, others, broken


def locate(directory: str | epath.PathLike, needed: list[str], config: str) -> dict[str, epath.Path]:
    """The path of each ``needed`` key ('v2', 'v1', 'splits') in ``directory``, found by content.

    Raises ``MissingNyuFilesError`` listing what is missing, or ``NyuFormatError`` for a
    needed file that is present but broken.
    """
    directory = epath.Path(directory)
    found, others, broken = scan(directory, needed)
    missing = [k for k in needed if k not in found]
    if missing and broken:
        # A broken file is most likely the missing one (a truncated download): say so first.
        raise broken[0]
    if missing:
        raise MissingNyuFilesError(missing_files_message(missing, directory, config, others))
    return found


def missing_files_message(
    missing: list[str], directory: epath.Path, config: str, others: list[str] | None = None, tried: str = ""
) -> str:
    rows = []
    for key in missing:
        e = EXPECTED[key]
        size = f"{e.size:,} bytes" if e.size else "size not verified"
        digest = f"sha256 {e.sha256}" if e.sha256 else "sha256 not verified"
        rows.append(f"  {e.filename:<28} {e.what}; {size}; {digest}\n      original URL: {e.url}")
    held = ", ".join(sorted(others)[:8]) if others else ("nothing" if directory.is_dir() else "it does not exist")
    return (
        f"nyu_region_support/{config} needs {len(missing)} file(s) that are not in {directory} "
        f"(it holds: {held}):\n" + "\n".join(rows) + "\n"
        f"{NYU_HOST_STATUS}\n" + (f"{tried}\n" if tried else "") + f"Put them in {directory}, then run again:\n"
        f"  rsn-build-dataset --dataset=nyu_region_support/{config} --manual_dir={directory}\n"
        f"(or, in Python, tfds.builder('nyu_region_support/{config}').download_and_prepare("
        f"download_config=tfds.download.DownloadConfig(manual_dir='{directory}'))).\n"
        "To try the original URLs first (10 s timeout), add --download (Python: "
        f"tfds.builder('nyu_region_support/{config}', download=True)); --mirror=KEY=URL downloads from a mirror."
    )


def probe(url: str, timeout: float = 10.0) -> str | None:
    """None if ``url`` answers within ``timeout`` seconds, else the reason it did not."""
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status >= 400:
                return f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return str(getattr(error, "reason", error)) or type(error).__name__
    return None
