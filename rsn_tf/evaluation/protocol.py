"""The evaluation protocol: everything that must match before two depth numbers can be compared.

"Your numbers don't match the paper's" is most often a protocol mismatch: another crop,
another depth cap, pixels pooled over the set instead of averaged per image, median
scaling, or simply another list of test frames. Every RSN-TF report (metrics.json,
metrics.md, the rsn-evaluate printout) therefore opens with the protocol in one line, and
``check_comparable`` refuses to compare two reports whose protocols differ.

The split is identified by a **fingerprint**: the sha256 of the sorted example ids (one
per line), with the frame count beside it. Two evaluations on "the NYU test split" that
used different frames get different fingerprints.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable

from rsn_tf.errors import UserError
from rsn_tf.metrics import VALID_DEPTH_RANGE_M, MetricConfig

__all__ = [
    "EvaluationProtocol",
    "ProtocolMismatchError",
    "split_fingerprint",
    "check_comparable",
]

# The fields two comparable reports share. The model, of course, may differ.
_COMPARED = (
    "dataset",
    "split",
    "frames",
    "fingerprint",
    "height",
    "width",
    "crop",
    "min_depth",
    "max_depth",
    "alignment",
    "aggregation",
)


class ProtocolMismatchError(UserError, ValueError):
    """Two reports were made under different protocols; the message lists every difference."""


def split_fingerprint(keys: Iterable[str]) -> str:
    """sha256 (hex) of the sorted example ids, one per line."""
    return hashlib.sha256("\n".join(sorted(keys)).encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class EvaluationProtocol:
    dataset: str
    split: str
    frames: int
    fingerprint: str
    height: int
    width: int
    crop: str = "none"
    min_depth: float = VALID_DEPTH_RANGE_M[0]
    max_depth: float = VALID_DEPTH_RANGE_M[1]
    alignment: str = "none"
    aggregation: str = "per_image"  # the headline numbers; the pooled ones are reported beside them

    @classmethod
    def from_settings(cls, settings: dict, keys: Iterable[str]) -> EvaluationProtocol:
        keys = list(keys)
        return cls(
            dataset=settings["dataset"],
            split=settings["split"],
            frames=len(keys),
            fingerprint=split_fingerprint(keys),
            height=int(settings["height"]),
            width=int(settings["width"]),
            crop=settings.get("crop", "none"),
            min_depth=float(settings["min_depth"]),
            max_depth=float(settings["max_depth"]),
            alignment=settings.get("alignment", "none"),
        )

    @property
    def metric_config(self) -> MetricConfig:
        return MetricConfig(self.min_depth, self.max_depth, self.crop, self.alignment)

    def line(self) -> str:
        """The one line every report opens with."""
        aggregation = (
            "mean of per-image metrics (whole-set pooled metrics also given)"
            if self.aggregation == "per_image"
            else "whole-set pooled metrics"
        )
        return (
            f"Protocol: {self.dataset} {self.split}, {self.frames} frames (sha256 {self.fingerprint[:12]}), "
            f"{self.height}x{self.width}, crop {self.crop}, valid depth ({self.min_depth:g}, {self.max_depth:g}) m, "
            f"alignment {self.alignment}, {aggregation}"
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def check_comparable(a: dict, b: dict, names: tuple[str, str] = ("first", "second")) -> None:
    """Raise ProtocolMismatchError unless two protocol dicts agree on every compared field."""
    differences = [
        f"{field}: {a.get(field)!r} vs {b.get(field)!r}" for field in _COMPARED if a.get(field) != b.get(field)
    ]
    if differences:
        raise ProtocolMismatchError(
            f"{names[0]} and {names[1]} were evaluated under different protocols, so their numbers cannot be "
            "compared: " + "; ".join(differences)
        )
