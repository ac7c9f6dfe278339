"""The Kinect v1 model both synthetic worlds read their raw depth through.

One function, ``raw_depth``, turns a rendered depth map into a Kinect-like reading (0 where
the sensor returns nothing), driven by a ``KinectModel`` of parameters. Each world has its
preset, chosen so that its files stay exactly as they were when each world had a model of
its own: ``SIMPLE`` (holes at depth discontinuities, scattered dropouts, nothing past
9.5 m) and ``HARD`` (quantised disparity, the projector's shadow, dark, glossy and grazing
surfaces, range limits and NYU's registration border). The random draws happen in one
fixed order (disparity jitter, hole blobs, dropouts), each only when the model uses it,
so a preset consumes exactly the random numbers its world always consumed.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

__all__ = [
    "DISPARITY_STEP",
    "HARD",
    "KINECT_BASELINE",
    "KINECT_MAX_RANGE",
    "REGISTRATION_BORDER",
    "SIMPLE",
    "KinectModel",
    "raw_depth",
]

# Kinect v1 geometry (Khoshelham & Elberink 2012: 1/8-pixel disparity steps).
KINECT_BASELINE = 0.075  # metres between the IR projector and the IR camera
DISPARITY_STEP = 1.0 / 8.0  # pixels
KINECT_MAX_RANGE = 9.0  # metres: beyond this the reading is mostly missing
REGISTRATION_BORDER = (44, 8, 38, 33)  # top, bottom, left, right pixels without depth at 480x640 (NYU's)
EDGE_MODELS = ("gradient", "shadow")


@dataclasses.dataclass(frozen=True)
class KinectModel:
    """Which failure modes of the sensor to simulate, and how strongly. A zero or None turns one off."""

    edges: str  # "gradient": holes where |grad depth| > edge_gradient; "shadow": the projector's shadow
    max_range: float  # metres: nothing is read beyond
    dropout: float  # fraction of pixels lost at random
    edge_gradient: float = 0.15  # metres per pixel, for edges="gradient"
    shadow_reach: int = 48  # pixels searched to the right for a shadowing surface, for edges="shadow"
    disparity_step: float | None = None  # pixels; None keeps the depth unquantised
    disparity_jitter: float = 0.0  # pixels (standard deviation) before quantisation
    baseline: float = KINECT_BASELINE
    range_falloff: float = 0.0  # metres before max_range over which holes grow in blobs
    min_range: float = 0.0  # metres: nothing is read nearer
    dark_luminance: float = 0.0  # surfaces darker than this lose their reading in blobs
    dark_blob: float = 0.8  # ... where the smooth blob field is below this
    glossy_blob: float | None = None  # glossy surfaces lose their reading where the blob field is below this
    grazing_cos: float = 0.0  # surfaces seen at |cos| below this lose their reading
    registration_border: tuple[int, int, int, int] | None = None  # top, bottom, left, right at 480x640

    def __post_init__(self):
        if self.edges not in EDGE_MODELS:
            raise ValueError(f"edges: {self.edges!r}, expected one of {EDGE_MODELS}")

    @property
    def uses_blobs(self) -> bool:
        return self.dark_luminance > 0 or self.glossy_blob is not None or self.range_falloff > 0


SIMPLE = KinectModel(edges="gradient", max_range=9.5, dropout=0.01)
HARD = KinectModel(
    edges="shadow",
    max_range=KINECT_MAX_RANGE,
    dropout=0.002,
    disparity_step=DISPARITY_STEP,
    disparity_jitter=0.04,
    range_falloff=2.0,
    min_range=0.5,
    dark_luminance=0.1,
    dark_blob=0.8,
    glossy_blob=0.85,
    grazing_cos=0.2,
    registration_border=REGISTRATION_BORDER,
)


def raw_depth(
    depth: np.ndarray,
    rng: np.random.Generator,
    model: KinectModel,
    *,
    fx: float | None = None,
    facing: np.ndarray | None = None,
    albedo: np.ndarray | None = None,
    glossy: np.ndarray | None = None,
) -> np.ndarray:
    """A Kinect-like reading of ``depth`` (metres, float32), 0 where the sensor gets nothing.

    ``fx`` (pixels) is needed for disparity (quantisation, the projector's shadow);
    ``facing`` (|cos| between ray and normal), ``albedo`` (H, W, 3) and ``glossy`` (H, W bool)
    for the models that use them.

    Disparity d = fx * baseline / z, quantised with a little jitter; shadow: the projector
    sits to the right, so a nearer surface k pixels to the right hides this pixel when its
    disparity exceeds ours by more than k.
    """
    h, w = depth.shape
    uses_disparity = model.disparity_step is not None or model.edges == "shadow"
    if uses_disparity and fx is None:
        raise ValueError("fx: this Kinect model works in disparity and needs the focal length")
    disparity = fx * model.baseline / depth if uses_disparity else None
    if model.disparity_step is not None:
        step = model.disparity_step
        quantised = np.round((disparity + rng.normal(0, model.disparity_jitter, depth.shape)) / step) * step
        raw = (fx * model.baseline / np.maximum(quantised, step)).astype(np.float32)
    else:
        raw = depth.copy()
    hole = np.zeros(depth.shape, bool)
    if model.edges == "shadow":
        reach = int(min(model.shadow_reach, math.ceil(disparity.max() - disparity.min())))
        for k in range(1, reach + 1):
            hole[:, : w - k] |= disparity[:, k:] - disparity[:, : w - k] > k
    else:
        gy, gx = np.gradient(depth)
        hole |= np.hypot(gx, gy) > model.edge_gradient
    if model.uses_blobs:  # a smooth random field makes holes blobs, not salt noise
        blob = cv2.resize(rng.random((h // 16, w // 16)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        if model.dark_luminance > 0:
            luminance = albedo @ np.array([0.3, 0.59, 0.11], np.float32)
            hole |= (luminance < model.dark_luminance) & (blob < model.dark_blob)
        if model.glossy_blob is not None:
            hole |= glossy & (blob < model.glossy_blob)
        if model.range_falloff > 0:
            start = model.max_range - model.range_falloff
            hole |= (depth > start) & (blob < (depth - model.max_range + model.range_falloff) / model.range_falloff)
    if model.grazing_cos > 0:
        hole |= facing < model.grazing_cos
    if model.min_range > 0:
        hole |= depth < model.min_range
    hole |= depth > model.max_range
    hole |= rng.random(depth.shape) < model.dropout
    if model.registration_border is not None:
        # The depth camera sees less than the colour camera: NYU's registered frames have no
        # reading in a border (measured on the real frames of ../shared/data/real_rgbd).
        scales = (h / 480, h / 480, w / 640, w / 640)
        top, bottom, left, right = (round(b * s) for b, s in zip(model.registration_border, scales))
        hole[:top], hole[h - bottom :], hole[:, :left], hole[:, w - right :] = True, True, True, True
    raw[hole] = 0.0
    return raw
