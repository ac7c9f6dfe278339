"""How much a (synthetic) world looks like real NYU: per-frame statistics and their summary.

Used by ``bench/world_statistics.py`` to set the hard world's parameters from real frames
before any training run (issue: "statistics against real NYU, decided before any ablation").
Each statistic is computed the same way for real and synthetic frames:

* classes per frame and the fraction of labelled pixels in the largest class, after mapping
  class names to NYU's 13 classes (the real label maps come in those 13);
* the unlabelled fraction;
* Algorithm 1's regions per frame and the size of each region (on the raw depth, holes left out);
* depth percentiles of the valid raw depth, and the fraction of pixels without a reading;
* how much the photo gives away: the accuracy of a nearest-colour-centroid classifier fitted
  on the frame itself (class from colour alone), and the rank correlation of luminance with depth
  (haze makes far things dark).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from tfds_nyu.region_support import region_support

__all__ = [
    "NYU13",
    "FrameStatistics",
    "colour_centroid_accuracy",
    "frame_statistics",
    "luminance_depth_correlation",
    "summarise",
    "to_nyu13",
]

NYU13 = (
    "bed",
    "books",
    "ceiling",
    "chair",
    "floor",
    "furniture",
    "objects",
    "picture",
    "sofa",
    "table",
    "tv",
    "wall",
    "window",
)
# Our class names onto NYU's 13 classes, after the usual 40 -> 13 mapping (desk -> table,
# blinds -> window, door -> wall, shelves and cabinets -> furniture). Names not listed -> objects.
_TO_NYU13 = {
    "bed": "bed",
    "book": "books",
    "books": "books",
    "ceiling": "ceiling",
    "chair": "chair",
    "floor": "floor",
    "cabinet": "furniture",
    "bookshelf": "furniture",
    "picture": "picture",
    "sofa": "sofa",
    "table": "table",
    "desk": "table",
    "television": "tv",
    "tv": "tv",
    "wall": "wall",
    "door": "wall",
    "window": "window",
    "blinds": "window",
}


def to_nyu13(labels: np.ndarray, names: Sequence[str], known: Sequence[str] | None = None) -> np.ndarray:
    """Relabel ``labels`` (k = names[k - 1], 0 = unlabelled) into NYU13 ids (1-based, 0 = unlabelled).

    Names outside ``known`` (a file's class table) become unlabelled, as they are when written.
    """
    lut = np.zeros(len(names) + 1, np.uint8)
    for k, name in enumerate(names, 1):
        if known is None or name in known:
            lut[k] = NYU13.index(_TO_NYU13.get(name.lower(), "objects")) + 1
    return lut[labels]


def colour_centroid_accuracy(image: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of labelled pixels whose nearest class-mean colour (fitted on this frame) is their class.

    1.0 when colour alone says the class; about the largest class's share when it says nothing.
    """
    mask = labels > 0
    if not mask.any():
        return float("nan")
    colours = image[mask].astype(np.float32)
    classes = labels[mask].astype(np.int64)
    ids = np.unique(classes)
    centroids = np.stack([colours[classes == c].mean(0) for c in ids])
    dist = ((colours[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
    return float(np.mean(ids[np.argmin(dist, axis=1)] == classes))


def luminance_depth_correlation(image: np.ndarray, depth: np.ndarray) -> float:
    """Spearman rank correlation of pixel luminance with depth over valid pixels (haze gives about -1)."""
    valid = depth > 0
    if valid.sum() < 3:
        return float("nan")
    lum = image[valid].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    ranks_l = np.argsort(np.argsort(lum, kind="stable"), kind="stable").astype(np.float64)
    ranks_d = np.argsort(np.argsort(depth[valid], kind="stable"), kind="stable").astype(np.float64)
    return float(np.corrcoef(ranks_l, ranks_d)[0, 1])


@dataclasses.dataclass
class FrameStatistics:
    classes: float | None = None
    largest_class: float | None = None
    unlabelled: float | None = None
    regions: float | None = None
    region_sizes: np.ndarray | None = None  # pixels per region
    depth: np.ndarray | None = None  # valid raw depth values (a subsample)
    hole_fraction: float | None = None
    colour_accuracy: float | None = None
    luminance_depth: float | None = None


def frame_statistics(
    image: np.ndarray | None,
    raw_depth: np.ndarray | None,
    labels13: np.ndarray | None,
    depth_for_regions: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> FrameStatistics:
    """Whatever the frame allows: labels give classes, labels + depth give regions, and so on.

    ``raw_depth`` is the sensor's reading (0 = none); regions use ``depth_for_regions`` when
    given (the 50 real label maps come without depth), else ``raw_depth``.
    """
    stats = FrameStatistics()
    rng = rng or np.random.default_rng(0)
    if labels13 is not None:
        counts = np.bincount(labels13.ravel(), minlength=len(NYU13) + 1)[1:]
        stats.classes = float((counts > 0).sum())
        stats.largest_class = float(counts.max() / max(1, counts.sum()))
        stats.unlabelled = float(np.mean(labels13 == 0))
        depth = depth_for_regions if depth_for_regions is not None else raw_depth
        if depth is not None:
            targets = region_support(labels13, depth)
            ids = targets.regions[targets.regions > 0]
            sizes = np.bincount(ids.ravel())
            stats.region_sizes = sizes[sizes > 0]
            stats.regions = float(stats.region_sizes.size)
        if image is not None:
            stats.colour_accuracy = colour_centroid_accuracy(image, labels13)
    if raw_depth is not None:
        valid = raw_depth[raw_depth > 0]
        stats.hole_fraction = float(1.0 - valid.size / raw_depth.size)
        stats.depth = rng.choice(valid, size=min(20000, valid.size), replace=False) if valid.size else valid
        if image is not None:
            stats.luminance_depth = luminance_depth_correlation(image, raw_depth)
    return stats


def _percentiles(values: Iterable[float], q=(5, 50, 95)) -> list[float] | None:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return [float(np.percentile(values, p)) for p in q] if values else None


def summarise(frames: Sequence[FrameStatistics]) -> dict[str, object]:
    """Per statistic: 5th / 50th / 95th percentile over frames (depth: over the pooled pixels)."""
    depth = [f.depth for f in frames if f.depth is not None and f.depth.size]
    sizes = [f.region_sizes for f in frames if f.region_sizes is not None]
    return {
        "frames": len(frames),
        "classes": _percentiles(f.classes for f in frames),
        "largest_class": _percentiles(f.largest_class for f in frames),
        "unlabelled": _percentiles(f.unlabelled for f in frames),
        "regions": _percentiles(f.regions for f in frames),
        "region_size": _percentiles(np.concatenate(sizes)) if sizes else None,
        "depth": [float(np.percentile(np.concatenate(depth), p)) for p in (5, 50, 95)] if depth else None,
        "hole_fraction": _percentiles(f.hole_fraction for f in frames),
        "colour_accuracy": _percentiles(f.colour_accuracy for f in frames),
        "luminance_depth": _percentiles(f.luminance_depth for f in frames),
    }
