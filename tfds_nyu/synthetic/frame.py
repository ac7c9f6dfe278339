"""What a synthetic world renders for one frame, and the depth range both worlds clip to."""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["MAX_DEPTH", "RenderedFrame"]

MAX_DEPTH = 10.0  # metres: the far clip of both worlds, about NYU's Kinect range


@dataclasses.dataclass(frozen=True)
class RenderedFrame:
    image: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32 metres, no holes
    raw_depth: np.ndarray  # (H, W) float32 metres, with Kinect-like holes (0)
    labels: np.ndarray  # (H, W) uint16: k means label_names[k - 1]
    label_names: tuple[str, ...]
    instances: np.ndarray  # (H, W) uint8: 0 = room, k = the k-th furniture box
