"""Model configurations (dataclasses) and the named presets ``paper``, ``small`` and ``tiny``.

``paper`` is Table 1 at full width and 480x640. ``small`` and ``tiny`` keep the
architecture (the same layers, scales and iterations) with a width multiplier,
fewer residual blocks and a smaller input, so that tests and the demo run on
a 2-core CPU.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rsn_tf.models.layers import PAPER_PYRAMID_SCALES

__all__ = ["GUIDANCE_CHOICES", "RSNConfig", "PRESETS", "get_preset"]

GUIDANCE_CHOICES = ("region_support", "semantic", "none")


@dataclasses.dataclass(frozen=True)
class RSNConfig:
    """Everything that shapes a Region Support Network."""

    name: str = "custom"
    height: int = 480  # training / export resolution
    width: int = 640
    width_multiplier: float = 1.0  # scales every channel count of Table 1
    blocks: tuple[int, ...] = (3, 4, 6, 3)  # ResNet34 BasicBlocks per stage
    pyramid_scales: tuple[float, ...] = PAPER_PYRAMID_SCALES
    refinement_iterations: int = 3
    guidance: str = "region_support"  # refinement guidance: region_support | semantic | none
    # Semantic guidance: class ids 0..semantic_classes (0 = unlabelled) through a learned embedding of
    # semantic_embedding_channels channels. The trainer sets the count from the dataset's names table
    # (rsn_tf.data.num_classes); 894, the merged NYU vocabulary, stays only for a dataset naming none.
    semantic_classes: int = 894
    semantic_embedding_channels: int = 8
    max_depth: float = 10.0  # depth inputs are divided by this
    initial_depth: float = 2.5  # the generation module's output at initialisation (m)

    def __post_init__(self):
        if self.guidance not in GUIDANCE_CHOICES:
            raise ValueError(f"guidance: expected one of {GUIDANCE_CHOICES}, got {self.guidance!r}")
        if len(self.blocks) != 4 or min(self.blocks) < 1:
            raise ValueError(f"blocks: expected 4 stages with >= 1 block each, got {self.blocks}")
        if self.width_multiplier <= 0:
            raise ValueError(f"width_multiplier: must be > 0, got {self.width_multiplier}")
        if self.refinement_iterations < 1:
            raise ValueError(f"refinement_iterations: must be >= 1, got {self.refinement_iterations}")
        if self.height < 2 or self.width < 2:
            raise ValueError(f"height/width: must be >= 2, got {self.height}x{self.width}")
        if self.semantic_classes < 1:
            raise ValueError(f"semantic_classes: must be >= 1, got {self.semantic_classes}")
        if self.semantic_embedding_channels < 1:
            raise ValueError(f"semantic_embedding_channels: must be >= 1, got {self.semantic_embedding_channels}")

    @property
    def guidance_channels(self) -> int:
        """The refinement module's guidance input channels: 1 for region support, the embedding's
        width for semantic guidance, 0 without guidance."""
        return {"region_support": 1, "semantic": self.semantic_embedding_channels, "none": 0}[self.guidance]

    def channels(self, paper_channels: int) -> int:
        """A Table 1 channel count scaled by the width multiplier (at least 4, a multiple of 4)."""
        return max(4, int(round(paper_channels * self.width_multiplier / 4)) * 4)

    def replace(self, **changes: Any) -> RSNConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["blocks"] = list(self.blocks)
        out["pyramid_scales"] = list(self.pyramid_scales)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RSNConfig:
        data = dict(data)
        for key in ("blocks", "pyramid_scales"):
            if key in data:
                data[key] = tuple(data[key])
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"RSNConfig: unknown field(s) {sorted(unknown)}")
        if data.get("guidance") == "semantic" and "semantic_embedding_channels" not in data:
            # Written before the embedding: its refinement took one scalar channel (id / class count),
            # so its weights fit no model of this version.
            raise ValueError(
                "RSNConfig: guidance is 'semantic' but semantic_embedding_channels is missing: the config was "
                "written by an RSN-TF whose semantic guidance was one scalar channel (class id / class count); "
                "its refinement weights do not fit the embedding. Train the semantic stage again."
            )
        return cls(**data)


PRESETS: dict[str, RSNConfig] = {
    "paper": RSNConfig(name="paper"),
    "small": RSNConfig(name="small", height=240, width=320, width_multiplier=0.25, blocks=(2, 2, 2, 2)),
    "tiny": RSNConfig(name="tiny", height=96, width=128, width_multiplier=0.125, blocks=(1, 1, 1, 1)),
}


def get_preset(name: str, **overrides: Any) -> RSNConfig:
    """A named preset, optionally with fields replaced (e.g. ``height=...``)."""
    if name not in PRESETS:
        raise ValueError(f"preset: unknown preset {name!r}; expected one of {sorted(PRESETS)}")
    return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]
