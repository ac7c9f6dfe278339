"""Figures people look at: a Figure-3-style comparison grid and a region-support visualisation.

Both use one colour map (turbo, near = red, far = blue, as everywhere in RSN-TF) with one
depth range shared by every panel of the figure, and a colour bar in metres, so colours
compare across columns. Pixels without valid ground truth are black in the ground-truth
panel. Drawn with OpenCV only (already a dependency); every function returns an
(H, W, 3) uint8 BGR array that ``cv2.imwrite`` writes as PNG.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import cv2
import numpy as np

from rsn_tf.colormap import colorize_depth, colour_bar, shared_depth_range

__all__ = [
    "depth_panel",
    "region_boundaries",
    "comparison_grid",
    "region_support_figure",
    "trust_triptych",
    "line_plot",
    "save_png",
]

PANEL_WIDTH = 224
_HEADER = 30
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _scale(image: np.ndarray, width: int, interpolation: int) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=interpolation)


def depth_panel(depth: np.ndarray, max_depth: float, width: int = PANEL_WIDTH) -> np.ndarray:
    """(H, W) metres -> a BGR panel; non-finite or non-positive pixels are black."""
    depth = np.asarray(depth, np.float32)
    panel = colorize_depth(np.nan_to_num(depth, nan=0.0), max_depth)
    panel[~(np.isfinite(depth) & (depth > 0))] = 0
    return _scale(panel, width, cv2.INTER_NEAREST)


def _rgb_panel(rgb: np.ndarray, width: int = PANEL_WIDTH) -> np.ndarray:
    bgr = cv2.cvtColor(np.clip(np.asarray(rgb), 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    return _scale(bgr, width, cv2.INTER_AREA if bgr.shape[1] > width else cv2.INTER_LINEAR)


def _titled(panel: np.ndarray, title: str) -> np.ndarray:
    header = np.full((_HEADER, panel.shape[1], 3), 255, np.uint8)
    scale = 0.5
    while scale > 0.3 and cv2.getTextSize(title, _FONT, scale, 1)[0][0] > panel.shape[1] - 8:
        scale -= 0.05
    cv2.putText(header, title, (4, _HEADER - 10), _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([header, panel])


def comparison_grid(
    rgbs: Sequence[np.ndarray],
    ground_truths: Sequence[np.ndarray],
    predictions: dict[str, Sequence[np.ndarray]],
    width: int = PANEL_WIDTH,
) -> np.ndarray:
    """Figure 3: one row per image; columns RGB, ground truth, then each named prediction."""
    max_depth = shared_depth_range(ground_truths)
    rows = []
    for i, (rgb, gt) in enumerate(zip(rgbs, ground_truths)):
        panels = [_rgb_panel(rgb, width), depth_panel(gt, max_depth, width)]
        panels += [depth_panel(maps[i], max_depth, width) for maps in predictions.values()]
        if i == 0:
            titles = ["RGB", "Ground truth", *predictions]
            panels = [_titled(p, t) for p, t in zip(panels, titles)]
        rows.append(_spaced(panels, axis=1))
    grid = _spaced(rows, axis=0)
    return np.hstack([grid, colour_bar(grid.shape[0], max_depth)])


def _spaced(panels: Sequence[np.ndarray], axis: int, gap: int = 4) -> np.ndarray:
    """Concatenate with white gaps (rows along axis 0, columns along axis 1)."""
    out = []
    for i, p in enumerate(panels):
        if i:
            shape = (p.shape[0], gap, 3) if axis == 1 else (gap, p.shape[1], 3)
            out.append(np.full(shape, 255, np.uint8))
        out.append(p)
    return np.concatenate(out, axis=axis)


def region_boundaries(regions: np.ndarray) -> np.ndarray:
    """Boolean (H, W): pixels whose right or lower neighbour lies in another region."""
    regions = np.asarray(regions)
    edge = np.zeros(regions.shape, bool)
    edge[:, :-1] |= regions[:, :-1] != regions[:, 1:]
    edge[:-1, :] |= regions[:-1, :] != regions[1:, :]
    return edge


def _with_boundaries(panel: np.ndarray, regions: np.ndarray, colour=(255, 255, 255)) -> np.ndarray:
    h, w = panel.shape[:2]
    big = cv2.resize(np.asarray(regions, np.int32).astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST)
    out = panel.copy()
    out[region_boundaries(big)] = colour
    return out


def region_support_figure(
    rgbs: Sequence[np.ndarray],
    regions: Sequence[np.ndarray],
    region_supports: Sequence[np.ndarray],
    predicted: Sequence[np.ndarray] | None = None,
    width: int = PANEL_WIDTH,
) -> np.ndarray:
    """One row per image: the image with Algorithm 1's region boundaries; the regions filled with
    their mean depth (the region support) over the image; and, if given, the predicted region support
    with the same boundaries."""
    max_depth = shared_depth_range(region_supports)
    rows = []
    for i, (rgb, reg, rs) in enumerate(zip(rgbs, regions, region_supports)):
        image = _rgb_panel(rgb, width)
        support = depth_panel(rs, max_depth, width)
        blended = cv2.addWeighted(support, 0.75, image, 0.25, 0)
        panels = [_with_boundaries(image, reg, (255, 255, 255)), _with_boundaries(blended, reg, (0, 0, 0))]
        titles = ["Image + region boundaries", "Region support (mean depth)"]
        if predicted is not None:
            panels.append(_with_boundaries(depth_panel(predicted[i], max_depth, width), reg, (0, 0, 0)))
            titles.append("Predicted region support")
        if i == 0:
            panels = [_titled(p, t) for p, t in zip(panels, titles)]
        rows.append(_spaced(panels, axis=1))
    grid = _spaced(rows, axis=0)
    return np.hstack([grid, colour_bar(grid.shape[0], max_depth)])


def _scalar_bar(height: int, label_top: str, label_bottom: str, colormap: int, width: int = 70) -> np.ndarray:
    """A vertical bar for a non-depth map: ``label_top`` at index 255, ``label_bottom`` at 0."""
    bar_w, top, bottom = 18, 8, 8
    inner = max(2, height - top - bottom)
    ramp = np.linspace(255, 0, inner).astype(np.uint8)[:, None].repeat(bar_w, axis=1)
    out = np.full((height, width, 3), 255, np.uint8)
    out[top : top + inner, 4 : 4 + bar_w] = cv2.applyColorMap(ramp, colormap)
    for y, text in ((top + 4, label_top), (top + inner - 1, label_bottom)):
        cv2.putText(out, text, (8 + bar_w, y), _FONT, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def trust_triptych(
    rgb: np.ndarray,
    depth: np.ndarray,
    confidence: np.ndarray,
    ground_truth: np.ndarray,
    width: int = PANEL_WIDTH,
    max_error: float = 0.5,
) -> np.ndarray:
    """Image | predicted depth | confidence | abs_rel error, each with its own bar.

    Confidence and error use the same colour map (viridis, bright = high) so that a good
    confidence map looks like the error map's negative: dark confidence where error is bright.
    """
    max_depth = shared_depth_range([ground_truth])
    valid = np.isfinite(ground_truth) & (ground_truth > 0)
    error = np.where(valid, np.abs(depth - ground_truth) / np.where(valid, ground_truth, 1.0), 0.0)
    conf_panel = cv2.applyColorMap((np.clip(confidence, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
    err_panel = cv2.applyColorMap((np.clip(error / max_error, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
    err_panel[~valid] = 0
    panels = [
        _titled(_rgb_panel(rgb, width), "Image"),
        _titled(depth_panel(depth, max_depth, width), "Predicted depth"),
        _titled(_scale(conf_panel, width, cv2.INTER_NEAREST), "Confidence"),
        _titled(_scale(err_panel, width, cv2.INTER_NEAREST), "Error |d - gt| / gt"),
    ]
    h = panels[0].shape[0]
    bars = [
        colour_bar(h, max_depth),
        _scalar_bar(h, "1 (sure)", "0", cv2.COLORMAP_VIRIDIS),
        _scalar_bar(h, f">={max_error:g}", "0", cv2.COLORMAP_VIRIDIS),
    ]
    return _spaced([panels[0], panels[1], bars[0], panels[2], bars[1], panels[3], bars[2]], axis=1)


_PLOT_COLOURS = [(0, 0, 0), (200, 80, 0), (0, 140, 255), (60, 170, 60), (180, 0, 180)]


def line_plot(
    x: Sequence[float],
    curves: dict[str, Sequence[float]],
    title: str,
    x_label: str,
    y_label: str,
    size: tuple[int, int] = (420, 520),
) -> np.ndarray:
    """A small line chart (BGR) with axes, ticks and a legend, for curves over a shared x."""
    h, w = size
    left, right, top, bottom = 62, 16, 46, 50 + 18 * len(curves)  # the legend sits below the axes
    out = np.full((h, w, 3), 255, np.uint8)
    x = np.asarray(x, np.float64)
    ys = np.concatenate([np.asarray(v, np.float64) for v in curves.values()])
    y_lo, y_hi = 0.0, float(np.max(ys)) * 1.08 or 1.0
    x_lo, x_hi = float(x.min()), float(x.max()) or 1.0

    def to_px(xv: float, yv: float) -> tuple[int, int]:
        px = left + (xv - x_lo) / (x_hi - x_lo) * (w - left - right)
        py = h - bottom - (yv - y_lo) / (y_hi - y_lo) * (h - top - bottom)
        return int(round(px)), int(round(py))

    cv2.rectangle(out, (left, top), (w - right, h - bottom), (0, 0, 0), 1)
    raw = (x_hi - x_lo) / 5
    step = min((m * 10 ** math.floor(math.log10(raw)) for m in (1, 2, 2.5, 5, 10)), key=lambda v: abs(v - raw))
    for t in np.arange(math.ceil(x_lo / step) * step, x_hi + 1e-9, step):
        px, _ = to_px(t, 0)
        cv2.line(out, (px, h - bottom), (px, h - bottom + 4), (0, 0, 0), 1)
        cv2.putText(out, f"{t:g}", (px - 10, h - bottom + 18), _FONT, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    for t in np.linspace(y_lo, y_hi, 5):
        _, py = to_px(x_lo, t)
        cv2.line(out, (left - 4, py), (left, py), (0, 0, 0), 1)
        cv2.putText(out, f"{t:.3g}", (4, py + 4), _FONT, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    for i, (name, values) in enumerate(curves.items()):
        colour = _PLOT_COLOURS[i % len(_PLOT_COLOURS)]
        points = np.array([to_px(a, b) for a, b in zip(x, values)], np.int32)
        cv2.polylines(out, [points], False, colour, 2, cv2.LINE_AA)
        y = h - bottom + 52 + 18 * i
        cv2.line(out, (left + 10, y - 4), (left + 34, y - 4), colour, 2)
        cv2.putText(out, name, (left + 40, y), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(out, title, (8, 18), _FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(
        out, x_label, (left + (w - left - right) // 2 - 40, h - bottom + 34), _FONT, 0.42, (0, 0, 0), 1, cv2.LINE_AA
    )
    cv2.putText(out, y_label, (4, top - 8), _FONT, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def save_png(path: str, image: np.ndarray) -> int:
    """Write a figure as PNG at maximum compression (figures get committed); returns its size in bytes."""
    if not cv2.imwrite(path, image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"{path}: could not write the PNG")
    return os.path.getsize(path)
