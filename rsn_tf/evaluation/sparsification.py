"""Sparsification curves and AUSE: does a confidence map rank the pixels by their real error?

For one image, remove the fraction f of its valid pixels that the uncertainty ranks worst,
and score the rest; f runs from 0 to ``max_fraction``. The **oracle** curve removes pixels by
their true error instead (the best any ranking can do), the **random** curve in a random
order (no information: flat on average). AUSE, the area between the curve and the oracle
(Ilg et al. 2018; Poggi et al. 2020), is 0 for a perfect ranking; the random ranking's AUSE
is the baseline a useful confidence map must beat. Curves are computed per image and
averaged over images, like the metrics.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["SPARSIFICATION_METRICS", "SparsificationCurves", "image_sparsification", "ause"]

SPARSIFICATION_METRICS = ("rmse", "abs_rel")
DEFAULT_FRACTIONS = np.round(np.arange(0.0, 1.0, 0.02), 2)  # 0, 0.02, ..., 0.98


def _remaining_metric(errors_in_keep_order: np.ndarray, keep: np.ndarray, metric: str) -> np.ndarray:
    """Metric over the first ``keep[i]`` pixels of an order, for every i (prefix sums)."""
    cumulative = np.concatenate([[0.0], np.cumsum(errors_in_keep_order)])
    mean = cumulative[keep] / keep
    return np.sqrt(mean) if metric == "rmse" else mean


def _pixel_errors(pred: np.ndarray, gt: np.ndarray, metric: str) -> np.ndarray:
    return (pred - gt) ** 2 if metric == "rmse" else np.abs(pred - gt) / gt


def image_sparsification(
    pred: np.ndarray,
    gt: np.ndarray,
    uncertainty: np.ndarray,
    metric: str = "rmse",
    fractions: np.ndarray = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The curve, oracle and random curves of one image's valid pixels (1-D arrays of equal length).

    Returns ``{"curve", "oracle", "random"}``, each the metric after removing each fraction.
    """
    if metric not in SPARSIFICATION_METRICS:
        raise ValueError(f"metric={metric!r}: expected one of {SPARSIFICATION_METRICS}")
    pred, gt, uncertainty = (np.asarray(a, np.float64).ravel() for a in (pred, gt, uncertainty))
    n = len(gt)
    keep = np.maximum(n - np.floor(np.asarray(fractions) * n).astype(int), 1)
    errors = _pixel_errors(pred, gt, metric)
    # Kept pixels are the least uncertain (least wrong, for the oracle) ones: ascending order.
    by_uncertainty = errors[np.argsort(uncertainty, kind="stable")]
    by_error = np.sort(errors)
    shuffled = errors[np.random.default_rng(seed).permutation(n)]
    return {
        "curve": _remaining_metric(by_uncertainty, keep, metric),
        "oracle": _remaining_metric(by_error, keep, metric),
        "random": _remaining_metric(shuffled, keep, metric),
    }


def ause(curve: np.ndarray, oracle: np.ndarray, fractions: np.ndarray = DEFAULT_FRACTIONS) -> float:
    """Area between a sparsification curve and its oracle over the removed fraction (trapezoids)."""
    return float(np.trapezoid(np.asarray(curve) - np.asarray(oracle), np.asarray(fractions)))


@dataclasses.dataclass
class SparsificationCurves:
    """Accumulates per-image curves; ``result()`` averages them and gives AUSE for each ranking."""

    metric: str = "rmse"
    fractions: np.ndarray = dataclasses.field(default_factory=lambda: DEFAULT_FRACTIONS.copy())
    _sums: dict = dataclasses.field(default_factory=dict)
    images: int = 0

    def update(self, pred: np.ndarray, gt: np.ndarray, uncertainty: np.ndarray, mask: np.ndarray) -> None:
        if not mask.any():
            return
        curves = image_sparsification(
            pred[mask], gt[mask], uncertainty[mask], self.metric, self.fractions, seed=self.images
        )
        for key, values in curves.items():
            self._sums[key] = self._sums.get(key, 0.0) + values
        self.images += 1

    def result(self) -> dict:
        mean = {key: values / max(self.images, 1) for key, values in self._sums.items()}
        return {
            "metric": self.metric,
            "images": self.images,
            "fractions": self.fractions.tolist(),
            **{key: values.tolist() for key, values in mean.items()},
            "ause": ause(mean["curve"], mean["oracle"], self.fractions),
            "ause_random": ause(mean["random"], mean["oracle"], self.fractions),
        }
