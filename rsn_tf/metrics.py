"""Depth metrics with the field's NYU conventions (Table 2 of the paper).

Conventions (BTS, AdaBins, ZoeDepth, Depth Anything):

* valid pixels: ``min_depth < gt < max_depth`` (strict; 1e-3 and 10 m for NYU), and
  finite; optionally also inside the Eigen crop;
* predictions: NaN and -inf become ``min_depth``, +inf becomes ``max_depth``,
  then everything is clamped to ``[min_depth, max_depth]``;
* every metric is computed per image over its valid pixels, then averaged over
  images. Images with no valid pixel are left out of the average.

Two implementations share these rules: ``compute_depth_metrics`` (numpy, for
offline evaluation) and the streaming ``keras.metrics.Metric`` classes (for
training loops). Tests hold them to 1e-5 of each other.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "METRIC_NAMES",
    "MetricConfig",
    "eigen_crop_mask",
    "valid_mask",
    "per_image_metrics",
    "compute_depth_metrics",
    "DepthMetric",
    "depth_metrics",
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


@dataclasses.dataclass(frozen=True)
class MetricConfig:
    """Evaluation options shared by the numpy and Keras metrics."""

    min_depth: float = 1e-3
    max_depth: float = 10.0
    eigen_crop: bool = False


def eigen_crop_mask(height: int, width: int) -> np.ndarray:
    """Boolean (H, W) mask of the Eigen crop, scaled from 480x640 for other sizes."""
    top, bottom, left, right = _EIGEN_CROP_480x640
    mask = np.zeros((height, width), bool)
    mask[
        int(round(top * height / 480)) : int(round(bottom * height / 480)),
        int(round(left * width / 640)) : int(round(right * width / 640)),
    ] = True
    return mask


def valid_mask(gt: np.ndarray, config: MetricConfig = MetricConfig()) -> np.ndarray:
    """Pixels that count: finite, strictly inside (min_depth, max_depth), optionally Eigen-cropped."""
    with np.errstate(invalid="ignore"):
        mask = np.isfinite(gt) & (gt > config.min_depth) & (gt < config.max_depth)
    if config.eigen_crop:
        mask &= eigen_crop_mask(*gt.shape[-2:])
    return mask


def _clamp_prediction(pred: np.ndarray, config: MetricConfig) -> np.ndarray:
    pred = np.where(np.isposinf(pred), config.max_depth, pred)
    pred = np.where(np.isnan(pred) | np.isneginf(pred), config.min_depth, pred)
    return np.clip(pred, config.min_depth, config.max_depth)


def _as_batch(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"{name}: expected (H, W), (B, H, W) or (B, H, W, 1), got shape {array.shape}")
    return array


def per_image_metrics(pred: np.ndarray, gt: np.ndarray, config: MetricConfig = MetricConfig()) -> dict[str, np.ndarray]:
    """Every metric for every image: a dict of (B,) float64 arrays.

    Images with no valid pixel get NaN (and ``valid_pixels`` = 0).
    """
    pred = _as_batch(pred, "pred").astype(np.float64)
    gt = _as_batch(gt, "gt").astype(np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape, got pred {pred.shape} and gt {gt.shape}")
    out: dict[str, list[float]] = {name: [] for name in METRIC_NAMES}
    out["valid_pixels"] = []
    for p_img, g_img in zip(_clamp_prediction(pred, config), gt):
        mask = valid_mask(g_img, config)
        out["valid_pixels"].append(float(mask.sum()))
        if not mask.any():
            for name in METRIC_NAMES:
                out[name].append(np.nan)
            continue
        p, g = p_img[mask], g_img[mask]
        ratio = np.maximum(g / p, p / g)
        log_err = np.log(p) - np.log(g)
        log10_err = log_err / np.log(10.0)  # = log10(p) - log10(g), without two more log passes
        values = {
            "abs_rel": np.mean(np.abs(g - p) / g),
            "sq_rel": np.mean((g - p) ** 2 / g),
            "rmse": np.sqrt(np.mean((g - p) ** 2)),
            "rmse_log": np.sqrt(np.mean(log_err**2)),
            "rmse_log10": np.sqrt(np.mean(log10_err**2)),
            "log10": np.mean(np.abs(log10_err)),
            "delta1": np.mean(ratio < 1.25),
            "delta2": np.mean(ratio < 1.25**2),
            "delta3": np.mean(ratio < 1.25**3),
            "silog": 100.0 * np.sqrt(max(np.mean(log_err**2) - np.mean(log_err) ** 2, 0.0)),
        }
        for name in METRIC_NAMES:
            out[name].append(float(values[name]))
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


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


# --------------------------------------------------------------------------------------
# Streaming Keras metrics
# --------------------------------------------------------------------------------------


def _tf_per_image(name: str, pred: tf.Tensor, gt: tf.Tensor, config: MetricConfig) -> tuple[tf.Tensor, tf.Tensor]:
    """(values, counted) for a (B, H, W) batch: one metric value per image and a 0/1 weight."""
    pred = tf.cast(pred, tf.float32)
    gt = tf.cast(gt, tf.float32)
    lo, hi = config.min_depth, config.max_depth
    pred = tf.where(tf.math.is_nan(pred), lo, pred)
    pred = tf.clip_by_value(pred, lo, hi)  # also maps +-inf to the bounds
    mask = tf.math.is_finite(gt) & (gt > lo) & (gt < hi)
    if config.eigen_crop:
        crop = eigen_crop_mask(gt.shape[1], gt.shape[2])
        mask &= tf.constant(crop)[None]
    weight = tf.cast(mask, tf.float32)
    n = tf.reduce_sum(weight, axis=[1, 2])
    counted = tf.cast(n > 0, tf.float32)
    safe_gt = tf.where(mask, gt, 1.0)
    safe_pred = tf.where(mask, pred, 1.0)

    def mean(x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(x * weight, axis=[1, 2]) / tf.maximum(n, 1.0)

    diff = safe_gt - safe_pred
    log_err = tf.math.log(safe_pred) - tf.math.log(safe_gt)
    if name == "abs_rel":
        value = mean(tf.abs(diff) / safe_gt)
    elif name == "sq_rel":
        value = mean(diff**2 / safe_gt)
    elif name == "rmse":
        value = tf.sqrt(mean(diff**2))
    elif name == "rmse_log":
        value = tf.sqrt(mean(log_err**2))
    elif name == "rmse_log10":
        value = tf.sqrt(mean((log_err / np.log(10.0)) ** 2))
    elif name == "log10":
        value = mean(tf.abs(log_err) / np.log(10.0))
    elif name.startswith("delta"):
        k = int(name[-1])
        ratio = tf.maximum(safe_gt / safe_pred, safe_pred / safe_gt)
        value = mean(tf.cast(ratio < 1.25**k, tf.float32))
    elif name == "silog":
        value = 100.0 * tf.sqrt(tf.maximum(mean(log_err**2) - mean(log_err) ** 2, 0.0))
    else:
        raise ValueError(f"unknown depth metric {name!r}; expected one of {METRIC_NAMES}")
    return value * counted, counted


@keras.saving.register_keras_serializable(package="rsn_tf")
class DepthMetric(keras.metrics.Metric):
    """One depth metric, averaged per image over everything passed to ``update_state``.

    ``update_state(y_true, y_pred)`` takes (B, H, W) or (B, H, W, 1) depth in metres.
    The result equals ``compute_depth_metrics(...)[metric]`` on the concatenated data.
    """

    def __init__(
        self,
        metric: str = "abs_rel",
        min_depth: float = 1e-3,
        max_depth: float = 10.0,
        eigen_crop: bool = False,
        name: str | None = None,
        **kwargs,
    ):
        if metric not in METRIC_NAMES:
            raise ValueError(f"metric: unknown depth metric {metric!r}; expected one of {METRIC_NAMES}")
        super().__init__(name=name or metric, **kwargs)
        self.metric = metric
        self.config = MetricConfig(min_depth, max_depth, eigen_crop)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total", dtype="float64")
        self.images = self.add_variable(shape=(), initializer="zeros", name="images", dtype="float64")

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("sample_weight: depth metrics weight images equally and take no sample_weight")
        y_true = tf.convert_to_tensor(y_true)
        y_pred = tf.convert_to_tensor(y_pred)
        if y_true.shape.rank == 4:
            y_true = y_true[..., 0]
        if y_pred.shape.rank == 4:
            y_pred = y_pred[..., 0]
        values, counted = _tf_per_image(self.metric, y_pred, y_true, self.config)
        self.total.assign_add(tf.cast(tf.reduce_sum(values), tf.float64))
        self.images.assign_add(tf.cast(tf.reduce_sum(counted), tf.float64))

    def result(self):
        return tf.cast(self.total / tf.maximum(self.images, 1.0), tf.float32)

    def get_config(self):
        return {
            **super().get_config(),
            "metric": self.metric,
            "min_depth": self.config.min_depth,
            "max_depth": self.config.max_depth,
            "eigen_crop": self.config.eigen_crop,
        }


def depth_metrics(config: MetricConfig = MetricConfig(), prefix: str = "") -> list[DepthMetric]:
    """One streaming metric per name in ``METRIC_NAMES``."""
    return [
        DepthMetric(name_, config.min_depth, config.max_depth, config.eigen_crop, name=prefix + name_)
        for name_ in METRIC_NAMES
    ]
