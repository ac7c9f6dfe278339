"""Metric calibration: fix a predicted depth map's scale from a few known distances.

A model trained on NYU predicts NYU-like metres. In another room, through another lens, its
scale can be off by tens of percent. Users who know one distance (a tape measure), or hold a
few sparse readings (a phone's LiDAR, a ToF sensor), can fit the prediction to them:

* ``scale``: ``d' = s * d`` (one point is enough);
* ``scale_shift``: ``d' = s * d + t`` (two points or more);
* either of them in **inverse depth** (``space="inverse"``): ``1/d' = s / d + t``, the usual
  choice for relative-depth (disparity-like) models such as MiDaS and Depth Anything.

With more points than the model needs, the fit is robust: RANSAC over minimal samples,
scored by the number of points whose calibrated depth lies within ``inlier_threshold``
(relative) of the known one, then a least-squares refit on the inliers. ``robust="none"``
is plain least squares over every point. The result reports its residual on the inliers.

The same fit serves as the evaluation's least-squares alignment (rsn_tf/metrics.py).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from rsn_tf.errors import UserError
from rsn_tf.least_squares import least_squares_fit

__all__ = [
    "MODELS",
    "SPACES",
    "ROBUST",
    "CalibrationError",
    "Calibration",
    "KnownDepths",
    "parse_known",
    "load_sparse_depth",
    "known_from_sparse",
    "fit_calibration",
    "calibrate",
]

MODELS = ("scale", "scale_shift")
SPACES = ("depth", "inverse")
ROBUST = ("ransac", "none")
_MIN_POINTS = {"scale": 1, "scale_shift": 2}


class CalibrationError(UserError, ValueError):
    """Calibration cannot be done from these inputs; the message says which input and why."""


@dataclasses.dataclass(frozen=True)
class KnownDepths:
    """Pixels with known depth: rows, columns (0-based, in the prediction's pixels) and metres."""

    rows: np.ndarray
    cols: np.ndarray
    metres: np.ndarray
    source: str = "points"

    def __len__(self) -> int:
        return len(self.metres)


@dataclasses.dataclass(frozen=True)
class Calibration:
    """A fitted calibration; ``apply`` maps predicted depth to calibrated depth (0 = no valid depth)."""

    scale: float
    shift: float
    model: str
    space: str
    robust: str
    points: int
    inliers: int
    residual_rmse_m: float  # over the inliers, after calibration
    residual_abs_rel: float  # mean |d' - known| / known over the inliers

    def apply(self, depth: np.ndarray) -> np.ndarray:
        depth = np.asarray(depth, np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.space == "depth":
                out = self.scale * depth + self.shift
            else:
                out = 1.0 / (self.scale / depth + self.shift)
        # A shift can push depth through zero; such pixels have no valid calibrated depth.
        return np.where(np.isfinite(out) & (out > 0), out, 0.0).astype(np.float32)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_choice(value: str, choices: Sequence[str], name: str) -> None:
    if value not in choices:
        raise CalibrationError(f"{name}={value!r}: expected one of {', '.join(choices)}")


def parse_known(values: Sequence[str], height: int, width: int) -> KnownDepths:
    """``["x,y,metres", ...]`` (x = column, y = row, pixels of an HxW image) -> KnownDepths.

    Refuses malformed entries, pixels outside the image and depths that are not positive.
    """
    rows, cols, metres = [], [], []
    for value in values:
        parts = value.split(",")
        try:
            x, y, z = (float(p) for p in parts)
        except ValueError:
            raise CalibrationError(f"--known={value!r}: expected x,y,metres, e.g. --known=320,240,2.5") from None
        if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
            raise CalibrationError(
                f"--known={value!r}: pixel (x={x:g}, y={y:g}) is outside the {width}x{height} image "
                f"(x in 0..{width - 1}, y in 0..{height - 1})"
            )
        if not np.isfinite(z) or z <= 0:
            raise CalibrationError(f"--known={value!r}: the depth must be a positive number of metres, got {z:g}")
        rows.append(int(round(y)))
        cols.append(int(round(x)))
        metres.append(z)
    return KnownDepths(np.asarray(rows), np.asarray(cols), np.asarray(metres, np.float64), "points")


def load_sparse_depth(path: str) -> np.ndarray:
    """A sparse depth image -> (H, W) float64 metres, 0 where missing.

    16-bit PNG in millimetres (NYU's and most sensors' convention) or ``.npy`` in metres.
    Zero, negative and non-finite values count as missing.
    """
    if not os.path.isfile(path):
        raise CalibrationError(f"--sparse_depth={path}: file not found")
    if path.lower().endswith(".npy"):
        try:
            depth = np.load(path).astype(np.float64)
        except (ValueError, OSError) as error:
            raise CalibrationError(f"--sparse_depth={path}: not a readable .npy file ({error})") from None
    elif path.lower().endswith(".png"):
        import cv2

        raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise CalibrationError(f"--sparse_depth={path}: not a readable PNG")
        if raw.dtype != np.uint16 or raw.ndim != 2:
            raise CalibrationError(
                f"--sparse_depth={path}: expected a single-channel 16-bit PNG in millimetres, "
                f"got {raw.dtype} with shape {raw.shape}"
            )
        depth = raw.astype(np.float64) / 1000.0
    else:
        raise CalibrationError(f"--sparse_depth={path}: expected a 16-bit .png (mm) or a .npy (metres)")
    if depth.ndim == 3 and depth.shape[-1] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise CalibrationError(f"--sparse_depth={path}: expected an (H, W) depth image, got shape {depth.shape}")
    return np.where(np.isfinite(depth) & (depth > 0), depth, 0.0)


def known_from_sparse(sparse: np.ndarray, height: int, width: int, source: str = "sparse") -> KnownDepths:
    """The non-zero pixels of a sparse depth image, placed on an HxW prediction.

    A sparse image of another size is mapped by pixel centres (never interpolated: a LiDAR
    return is one reading, not a surface).
    """
    rows, cols = np.nonzero(sparse > 0)
    if len(rows) == 0:
        raise CalibrationError(f"{source}: the sparse depth image has no valid (non-zero) pixel")
    metres = sparse[rows, cols].astype(np.float64)
    h, w = sparse.shape
    if (h, w) != (height, width):
        rows = np.minimum(((rows + 0.5) * height / h).astype(int), height - 1)
        cols = np.minimum(((cols + 0.5) * width / w).astype(int), width - 1)
    return KnownDepths(rows, cols, metres, source)


def _calibrated(pred: np.ndarray, s: float, t: float, space: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return s * pred + t if space == "depth" else 1.0 / (s / pred + t)


def _relative_error(pred: np.ndarray, known: np.ndarray, s: float, t: float, space: str) -> np.ndarray:
    out = _calibrated(pred, s, t, space)
    err = np.abs(out - known) / known
    return np.where(np.isfinite(out) & (out > 0), err, np.inf)


def fit_calibration(
    pred: np.ndarray,
    known: np.ndarray,
    model: str = "scale",
    space: str = "depth",
    robust: str = "ransac",
    inlier_threshold: float = 0.1,
    iterations: int = 500,
    seed: int = 0,
) -> Calibration:
    """Fit ``known ≈ f(pred)`` from paired 1-D arrays of predicted and known depth (metres)."""
    _check_choice(model, MODELS, "model")
    _check_choice(space, SPACES, "space")
    _check_choice(robust, ROBUST, "robust")
    pred = np.asarray(pred, np.float64).ravel()
    known = np.asarray(known, np.float64).ravel()
    if pred.shape != known.shape:
        raise CalibrationError(f"{len(pred)} predicted depths for {len(known)} known depths")
    if not np.all(np.isfinite(known) & (known > 0)):
        raise CalibrationError("every known depth must be a positive number of metres")
    need = _MIN_POINTS[model]
    if len(known) < need:
        raise CalibrationError(
            f"a {model} fit needs at least {need} known point{'s' if need > 1 else ''}, got {len(known)}"
            + ("; with one point, fit the scale alone (model 'scale')" if model == "scale_shift" else "")
        )
    if not np.all(np.isfinite(pred) & (pred > 0)):
        raise CalibrationError("the prediction has no positive depth at some known points; cannot calibrate there")
    x, y = (pred, known) if space == "depth" else (1.0 / pred, 1.0 / known)
    if model == "scale_shift" and np.ptp(x) <= 1e-9 * np.abs(x).max():
        raise CalibrationError("every known point has the same predicted depth; a shift cannot be fitted from them")

    inliers = np.ones(len(x), bool)
    if robust == "ransac" and len(x) > need:
        rng = np.random.default_rng(seed)
        best = (-1, np.inf)
        for _ in range(iterations):
            sample = rng.choice(len(x), size=need, replace=False)
            if model == "scale_shift" and np.ptp(x[sample]) <= 1e-12:
                continue
            s, t = least_squares_fit(x[sample], y[sample], model)
            err = _relative_error(pred, known, s, t, space)
            candidate = err < inlier_threshold
            score = (int(candidate.sum()), -float(np.sum(np.minimum(err, inlier_threshold))))
            if score > best:
                best, inliers = score, candidate
        if inliers.sum() < need:  # no consensus at all: fall back to every point
            inliers = np.ones(len(x), bool)
    s, t = least_squares_fit(x[inliers], y[inliers], model)
    out = _calibrated(pred[inliers], s, t, space)
    residual = out - known[inliers]
    return Calibration(
        scale=s,
        shift=t,
        model=model,
        space=space,
        robust=robust,
        points=len(known),
        inliers=int(inliers.sum()),
        residual_rmse_m=float(np.sqrt(np.mean(residual**2))),
        residual_abs_rel=float(np.mean(np.abs(residual) / known[inliers])),
    )


def calibrate(depth: np.ndarray, known: KnownDepths, **fit_options) -> tuple[np.ndarray, Calibration]:
    """Fit on the predicted ``depth`` (H, W) at the known pixels; returns the calibrated map and the fit."""
    height, width = depth.shape
    if len(known) == 0:
        raise CalibrationError("no known depth to calibrate from")
    if known.rows.min() < 0 or known.rows.max() >= height or known.cols.min() < 0 or known.cols.max() >= width:
        raise CalibrationError(f"{known.source}: a known pixel lies outside the {width}x{height} prediction")
    fit = fit_calibration(depth[known.rows, known.cols], known.metres, **fit_options)
    return fit.apply(depth), fit
