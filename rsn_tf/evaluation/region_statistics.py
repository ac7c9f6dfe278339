"""Section 4.2's region statistics: how well a map agrees with depth inside each region.

The paper reports, over Algorithm 1's regions, "the mean value of RMSE and variance
among each region" twice: for the depth map (ground truth) and for the region support
the generation module predicts (0.3613 / 0.1196 and 0.2852 / 0.117). We compute, for
every region r of every image (valid pixels only, region id > 0):

* ``rmse``: sqrt(mean over r of (values - reference)^2);
* ``variance``: the variance of ``values`` over r (population variance, ddof 0).

and report the mean over all regions of the split (each region counts once). Two pairs
are written:

* ``ground_truth``: values = ground-truth depth, reference = ground-truth region support.
  The RMSE is how far depth strays from its region's support; the variance is the
  depth variance inside regions, which Algorithm 1 bounds.
* ``predicted``: values = the model's region support, reference = ground-truth depth.
  Its variance is the "unstable variance" of the generated region support: an ideal
  region support is constant inside a region.
"""

from __future__ import annotations

import numpy as np

__all__ = ["per_region_statistics", "RegionStatistics"]


def per_region_statistics(
    values: np.ndarray, reference: np.ndarray, regions: np.ndarray, valid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(rmse, variance) arrays, one entry per region present in one (H, W) image."""
    values = np.asarray(values, np.float64).reshape(-1)
    reference = np.asarray(reference, np.float64).reshape(-1)
    regions = np.asarray(regions).reshape(-1).astype(np.int64)
    if not (values.shape == reference.shape == regions.shape):
        raise ValueError(
            f"values, reference and regions must have one shape; got {values.shape}, {reference.shape}, {regions.shape}"
        )
    keep = (regions > 0) & np.isfinite(values) & np.isfinite(reference)
    if valid is not None:
        keep &= np.asarray(valid, bool).reshape(-1)
    ids, v, ref = regions[keep], values[keep], reference[keep]
    if ids.size == 0:
        return np.zeros(0), np.zeros(0)
    # Region ids are small dense integers (Algorithm 1 numbers them 1..M), so bincount over the
    # raw ids is one pass each, with no sort; absent ids are dropped at the end.
    size = int(ids.max()) + 1
    count = np.bincount(ids, minlength=size)
    present = count > 0
    n = np.maximum(count, 1)
    sq_err = np.bincount(ids, (v - ref) ** 2, size) / n
    mean = np.bincount(ids, v, size) / n
    variance = np.bincount(ids, (v - mean[ids]) ** 2, size) / n
    return np.sqrt(sq_err[present]), variance[present]


class RegionStatistics:
    """Accumulates per-region RMSE and variance over a split, for ground truth and a prediction."""

    def __init__(self) -> None:
        self._parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"ground_truth": [], "predicted": []}

    def update(
        self,
        depth: np.ndarray,
        region_support: np.ndarray,
        regions: np.ndarray,
        valid: np.ndarray,
        predicted_region_support: np.ndarray | None = None,
    ) -> None:
        """One (H, W) image: ground-truth depth, region support and regions, the valid mask, a prediction."""
        self._parts["ground_truth"].append(per_region_statistics(depth, region_support, regions, valid))
        if predicted_region_support is not None:
            self._parts["predicted"].append(per_region_statistics(predicted_region_support, depth, regions, valid))

    def result(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, parts in self._parts.items():
            if not parts:
                continue
            rmse = np.concatenate([p[0] for p in parts])
            variance = np.concatenate([p[1] for p in parts])
            out[name] = {
                "mean_rmse": float(rmse.mean()) if rmse.size else float("nan"),
                "mean_variance": float(variance.mean()) if variance.size else float("nan"),
                "regions": int(rmse.size),
            }
        return out
