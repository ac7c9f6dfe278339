"""Depth metrics with the field's NYU conventions (Table 2 of the paper).

Conventions (BTS, AdaBins, ZoeDepth, Depth Anything):

* valid pixels: ``min_depth < gt < max_depth`` (strict; ``VALID_DEPTH_RANGE_M``, 1e-3 and 10 m
  for NYU: the one definition that metrics, protocol, rsn-evaluate and the serving bundle read), and
  finite; optionally also inside the Eigen (NYU) or Garg (KITTI) crop;
* predictions: NaN and -inf become ``min_depth``, +inf becomes ``max_depth``,
  then everything is clamped to ``[min_depth, max_depth]``;
* every metric is computed per image over its valid pixels, then averaged over
  images. Images with no valid pixel are left out of the average. ``pooled_metrics``
  gives the other aggregation in use, every valid pixel of the set weighing the same;
  both come from the same per-pixel sums (``per_image_sums``).

``compute_depth_metrics`` (numpy) implements them; training validates through it too.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rsn_tf.least_squares import least_squares_fit

# NYU's valid ground-truth depth (metres, exclusive at both ends): the field's convention.
VALID_DEPTH_RANGE_M: tuple[float, float] = (1e-3, 10.0)

__all__ = [
    "VALID_DEPTH_RANGE_M",
    "METRIC_NAMES",
    "MetricConfig",
    "CROPS",
    "ALIGNMENTS",
    "SUM_NAMES",
    "eigen_crop_mask",
    "garg_crop_mask",
    "crop_mask",
    "align_prediction",
    "per_image_sums",
    "metrics_from_sums",
    "pooled_metrics",
    "valid_mask",
    "per_image_metrics",
    "compute_depth_metrics",
]

METRIC_NAMES: tuple[str, ...] = (
    "abs_rel",
    "sq_rel",
    "rmse",
    "rmse_log",  # ln, the paper's "RMSE-log" column (RSN: 0.172)
    "rmse_log10",  # the same in log10 (the paper's footnote: RSN 0.112)
    "log10",  # mean |log10 gt - log10 pred|, the field's "log10"
    "delta1",
    "delta2",
    "delta3",
    "silog",
)

# The Eigen crop, as rows [45, 471) and columns [41, 601) of a 480x640 frame.
_EIGEN_CROP_480x640 = (45, 471, 41, 601)
# Garg et al.'s crop for KITTI, as fractions of (height, height, width, width).
_GARG_CROP_FRACTIONS = (0.40810811, 0.99189189, 0.03594771, 0.96405229)


CROPS: tuple[str, ...] = ("none", "eigen", "garg")
ALIGNMENTS: tuple[str, ...] = ("none", "median", "least_squares")


@dataclasses.dataclass(frozen=True)
class MetricConfig:
    """Evaluation options shared by the numpy and Keras metrics.

    ``crop``: ``eigen`` (NYU, rows 45:471 and columns 41:601 of 480x640) or ``garg``
    (KITTI's crop, as fractions of the frame), scaled to other sizes. ``alignment``, per
    image over its valid pixels, before clamping: ``median`` scales the prediction by
    median(gt) / median(pred) (Monodepth2's protocol); ``least_squares`` fits a scale and a
    shift in depth (MiDaS's protocol, in depth rather than disparity). Both are for
    relative-depth models and fair comparisons with them; the paper's numbers use neither.
    """

    min_depth: float = VALID_DEPTH_RANGE_M[0]
    max_depth: float = VALID_DEPTH_RANGE_M[1]
    crop: str = "none"
    alignment: str = "none"

    def __post_init__(self):
        if self.crop not in CROPS:
            raise ValueError(f"crop={self.crop!r}: expected one of {', '.join(CROPS)}")
        if self.alignment not in ALIGNMENTS:
            raise ValueError(f"alignment={self.alignment!r}: expected one of {', '.join(ALIGNMENTS)}")
        if not 0 <= self.min_depth < self.max_depth:
            raise ValueError(f"min_depth={self.min_depth}, max_depth={self.max_depth}: need 0 <= min < max")


def _scaled_box(height: int, width: int, top: float, bottom: float, left: float, right: float) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[
        int(round(top * height)) : int(round(bottom * height)), int(round(left * width)) : int(round(right * width))
    ] = True
    return mask


def eigen_crop_mask(height: int, width: int) -> np.ndarray:
    """Boolean (H, W) mask of the Eigen crop, scaled from 480x640 for other sizes."""
    top, bottom, left, right = _EIGEN_CROP_480x640
    return _scaled_box(height, width, top / 480, bottom / 480, left / 640, right / 640)


def garg_crop_mask(height: int, width: int) -> np.ndarray:
    """Boolean (H, W) mask of Garg's crop (KITTI): rows [0.4081, 0.9919) and columns [0.0359, 0.9641)."""
    mask = np.zeros((height, width), bool)
    top, bottom, left, right = _GARG_CROP_FRACTIONS
    # Truncation, as the KITTI evaluations do, not rounding.
    mask[int(top * height) : int(bottom * height), int(left * width) : int(right * width)] = True
    return mask


def crop_mask(crop: str, height: int, width: int) -> np.ndarray:
    """The (H, W) mask of a named crop (all True for ``none``)."""
    if crop == "eigen":
        return eigen_crop_mask(height, width)
    if crop == "garg":
        return garg_crop_mask(height, width)
    if crop == "none":
        return np.ones((height, width), bool)
    raise ValueError(f"crop={crop!r}: expected one of {', '.join(CROPS)}")


def valid_mask(gt: np.ndarray, config: MetricConfig = MetricConfig()) -> np.ndarray:
    """Pixels that count: finite, strictly inside (min_depth, max_depth), inside the crop."""
    with np.errstate(invalid="ignore"):
        mask = np.isfinite(gt) & (gt > config.min_depth) & (gt < config.max_depth)
    if config.crop != "none":
        mask &= crop_mask(config.crop, *gt.shape[-2:])
    return mask


def _replace_non_finite(pred: np.ndarray, config: MetricConfig) -> np.ndarray:
    pred = np.where(np.isposinf(pred), config.max_depth, pred)
    return np.where(np.isnan(pred) | np.isneginf(pred), config.min_depth, pred)


def align_prediction(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, alignment: str) -> np.ndarray:
    """One image's prediction aligned to its ground truth on ``mask`` (see MetricConfig)."""
    if alignment == "none" or not mask.any():
        return pred
    p, g = pred[mask], gt[mask]
    if alignment == "median":
        median = np.median(p)
        return pred * (np.median(g) / median) if median > 0 else pred
    if alignment == "least_squares":
        scale, shift = least_squares_fit(p, g)  # the same fit rsn_tf/calibration.py uses
        return pred * scale + shift
    raise ValueError(f"alignment={alignment!r}: expected one of {', '.join(ALIGNMENTS)}")


def _as_batch(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"{name}: expected (H, W), (B, H, W) or (B, H, W, 1), got shape {array.shape}")
    return array


# Every metric is a function of these per-pixel sums, so the same sums give the per-image
# value (one image's sums) and the whole-set pooled value (the sums over every image).
SUM_NAMES: tuple[str, ...] = (
    "n",
    "abs_rel",
    "sq_rel",
    "sq_err",
    "log_sq",
    "log_sum",
    "log10_abs",
    "delta1",
    "delta2",
    "delta3",
)


def per_image_sums(pred: np.ndarray, gt: np.ndarray, config: MetricConfig = MetricConfig()) -> dict[str, np.ndarray]:
    """The per-pixel sums behind every metric, for every image: a dict of (B,) float64 arrays."""
    pred = _as_batch(pred, "pred").astype(np.float64)
    gt = _as_batch(gt, "gt").astype(np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape, got pred {pred.shape} and gt {gt.shape}")
    sums = {name: np.zeros(len(gt)) for name in SUM_NAMES}
    for i, (p_img, g_img) in enumerate(zip(pred, gt)):
        mask = valid_mask(g_img, config)
        if not mask.any():
            continue
        aligned = align_prediction(_replace_non_finite(p_img, config), g_img, mask, config.alignment)
        p_img = np.clip(aligned, config.min_depth, config.max_depth)
        p, g = p_img[mask], g_img[mask]
        ratio = np.maximum(g / p, p / g)
        log_err = np.log(p) - np.log(g)
        values = {
            "n": float(mask.sum()),
            "abs_rel": np.sum(np.abs(g - p) / g),
            "sq_rel": np.sum((g - p) ** 2 / g),
            "sq_err": np.sum((g - p) ** 2),
            "log_sq": np.sum(log_err**2),
            "log_sum": np.sum(log_err),
            "log10_abs": np.sum(np.abs(log_err)) / np.log(10.0),  # = sum |log10 p - log10 g|
            "delta1": np.sum(ratio < 1.25),
            "delta2": np.sum(ratio < 1.25**2),
            "delta3": np.sum(ratio < 1.25**3),
        }
        for name in SUM_NAMES:
            sums[name][i] = values[name]
    return sums


def metrics_from_sums(sums: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every metric from per-pixel sums (any shape); NaN where ``n`` is 0."""
    n = np.asarray(sums["n"], np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = lambda key: np.where(n > 0, np.asarray(sums[key]) / n, np.nan)  # noqa: E731
        log_sq, log_mean = mean("log_sq"), mean("log_sum")
        return {
            "abs_rel": mean("abs_rel"),
            "sq_rel": mean("sq_rel"),
            "rmse": np.sqrt(mean("sq_err")),
            "rmse_log": np.sqrt(log_sq),
            "rmse_log10": np.sqrt(log_sq) / np.log(10.0),
            "log10": mean("log10_abs"),
            "delta1": mean("delta1"),
            "delta2": mean("delta2"),
            "delta3": mean("delta3"),
            "silog": 100.0 * np.sqrt(np.maximum(log_sq - log_mean**2, 0.0)),
        }


def per_image_metrics(pred: np.ndarray, gt: np.ndarray, config: MetricConfig = MetricConfig()) -> dict[str, np.ndarray]:
    """Every metric for every image: a dict of (B,) float64 arrays.

    Images with no valid pixel get NaN (and ``valid_pixels`` = 0).
    """
    sums = per_image_sums(pred, gt, config)
    out = {k: np.asarray(v, np.float64) for k, v in metrics_from_sums(sums).items()}
    out["valid_pixels"] = sums["n"]
    return out


def pooled_metrics(sums: dict[str, np.ndarray]) -> dict[str, float]:
    """Whole-set pixel pooling: every valid pixel of every image weighs the same."""
    total = {k: float(np.sum(v)) for k, v in sums.items()}
    values = metrics_from_sums(total)
    result = {name: float(values[name]) for name in METRIC_NAMES}
    result["num_pixels"] = int(total["n"])
    return result


def compute_depth_metrics(pred: np.ndarray, gt: np.ndarray, config: MetricConfig = MetricConfig()) -> dict[str, float]:
    """The per-image average of every metric over a batch (images with no valid pixel skipped).

    Returns a dict of floats, plus ``num_images`` (the images that counted).
    """
    per_image = per_image_metrics(pred, gt, config)
    counted = per_image["valid_pixels"] > 0
    result = {
        name: float(np.mean(per_image[name][counted])) if counted.any() else float("nan") for name in METRIC_NAMES
    }
    result["num_images"] = int(counted.sum())
    return result
