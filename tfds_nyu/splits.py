"""Train/test splits: NYU v2's official split, and the paper's scene-aware split of v1 + v2.

The paper (Section 4.1) merges v1 and v2 and splits by scene: "for scenes with
many images, we randomly select several images as testing. And for scenes which
only have few images, we directly use them as testing images", giving 3264 train
and 483 test images (12.9 % test). ``scene_aware_split`` implements that rule
deterministically:

1. a scene with fewer than ``few_frames`` frames (default 2, i.e. a single frame)
   goes to test whole;
2. every other scene sends ``max(1, round(n * p))`` of its n frames to test, evenly
   spaced through its frames in file order, and keeps at least one for training;
3. ``p`` is the one fraction, found by bisection, that brings the total test share
   as close as possible to ``test_fraction`` (default 483 / 3747).

The result depends only on the scene names and their order, so it is the same on
every machine and run.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import scipy.io
from etils import epath

__all__ = ["PAPER_TEST_FRACTION", "hash_holdout", "read_official_split", "scene_aware_split"]

PAPER_TEST_FRACTION = 483 / (3264 + 483)


def read_official_split(path: str | epath.PathLike, num_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read NYU v2's ``splits.mat`` (MATLAB v5). Returns 0-based (train, test) frame indices.

    Raises ``ValueError`` naming the file and field when a field is missing, the file is
    not MATLAB v5, indices are out of range (for ``num_frames``), or train and test overlap.
    """
    path = epath.Path(path)
    try:
        with path.open("rb") as fh:
            mat = scipy.io.loadmat(fh)
    except (ValueError, NotImplementedError, OSError) as error:
        raise ValueError(f"{path}: not a readable MATLAB v5 splits file ({error})") from error
    out = []
    for field in ("trainNdxs", "testNdxs"):
        if field not in mat:
            raise ValueError(f"{path}: missing field '{field}' (expected trainNdxs and testNdxs)")
        idx = np.asarray(mat[field]).ravel().astype(np.int64) - 1
        if idx.size and idx.min() < 0:
            raise ValueError(f"{path}: field '{field}' must hold 1-based indices, found {idx.min() + 1}")
        if num_frames is not None and idx.size and idx.max() >= num_frames:
            raise ValueError(
                f"{path}: field '{field}' refers to frame {idx.max() + 1}, but the labelled file has {num_frames}"
            )
        out.append(idx)
    if np.intersect1d(out[0], out[1]).size:
        raise ValueError(f"{path}: trainNdxs and testNdxs overlap")
    return out[0], out[1]


def _test_count(n: int, p: float, few_frames: int) -> int:
    if n < few_frames:
        return n
    return min(n - 1, max(1, int(round(n * p))))


def scene_aware_split(
    scenes: Sequence[str], test_fraction: float = PAPER_TEST_FRACTION, few_frames: int = 2
) -> np.ndarray:
    """Boolean ``is_test`` per frame for the paper's scene-aware split (see module docstring)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: must be in (0, 1), got {test_fraction}")
    frames_of: OrderedDict[str, list[int]] = OrderedDict()
    for i, scene in enumerate(scenes):
        frames_of.setdefault(scene, []).append(i)
    sizes = [len(v) for v in frames_of.values()]
    target = test_fraction * len(scenes)

    def total(p: float) -> int:
        return sum(_test_count(n, p, few_frames) for n in sizes)

    lo, hi = 0.0, 1.0
    for _ in range(50):  # total(p) is non-decreasing in p
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if total(mid) < target else (lo, mid)
    p = min((lo, hi), key=lambda q: abs(total(q) - target))

    is_test = np.zeros(len(scenes), bool)
    for frames in frames_of.values():
        k = _test_count(len(frames), p, few_frames)
        # Evenly spaced picks through the scene, centred in each stride.
        picks = ((np.arange(k) + 0.5) * len(frames) / k).astype(int) if k else []
        is_test[[frames[j] for j in picks]] = True
    return is_test


def hash_holdout(names: Sequence[str], fraction: float) -> set[str]:
    """The distinct ``names`` held out: the ``max(1, round(n * fraction))`` whose SHA-1 is smallest.

    Used for whole-scene validation splits (the NYU h5 tree) and for stem splits of RGB-D
    folders. It depends only on the set of names, not their order or the machine, and a name
    keeps its side when other names are added unless it is near the cut. With one distinct
    name nothing is held out (training needs it).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction: must be in (0, 1), got {fraction}")
    unique = sorted(set(names))
    if len(unique) < 2:
        return set()
    k = min(len(unique) - 1, max(1, int(round(len(unique) * fraction))))
    ranked = sorted(unique, key=lambda n: hashlib.sha1(n.encode("utf-8")).hexdigest())
    return set(ranked[:k])
