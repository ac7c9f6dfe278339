"""metrics.json: the one typed report every evaluation writes and every reader reads.

Built by rsn_tf.evaluation.reports (``report_for``: the protocol line comes from
rsn_tf.evaluation.protocol) for rsn-evaluate, for every trained stage (the task's validation)
and for Table 3's data rows; read back here for the serving bundle, ``rsn-evaluate --against``
and the ablation runner. It sits below rsn_tf.serving so that the bundle can read it. Its shape::

    {"model": name,
     "protocol_line": "Protocol: ...",     # the one line every report opens with
     "protocol": {dataset, split, frames, fingerprint, height, width, crop, min_depth,
                  max_depth, alignment, aggregation},     # rsn_tf/evaluation/protocol.py
     "settings": {dataset, split, height, width, crop, min_depth, max_depth, alignment},
     "metrics": {abs_rel, sq_rel, rmse, rmse_log, rmse_log10, log10, delta1..3, silog, num_images},
     "pooled_metrics": {the same, pooled over every valid pixel of the set, num_pixels},
     "region_statistics": {...},            # Section 4.2; may be empty
     "training": {"stage", "steps", "final_losses"}}   # trained stages only
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from rsn_tf.errors import UserError
from rsn_tf.files import atomic_write_json

__all__ = ["MetricsReport", "MetricsReportError"]

_REQUIRED = ("model", "protocol_line", "protocol", "settings", "metrics")


class MetricsReportError(UserError, ValueError):
    """A file is not an RSN-TF metrics.json; the message names it and what is missing."""


@dataclasses.dataclass
class MetricsReport:
    model: str
    protocol_line: str
    protocol: dict[str, Any]
    settings: dict[str, Any]
    metrics: dict[str, float]
    pooled_metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    region_statistics: dict[str, Any] = dataclasses.field(default_factory=dict)
    training: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        document = dataclasses.asdict(self)
        if self.training is None:
            document.pop("training")
        return document

    def write(self, path: str) -> str:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        atomic_write_json(path, self.to_dict())
        return path

    @classmethod
    def read(cls, path: str) -> MetricsReport:
        try:
            with open(path) as fh:
                document = json.load(fh)
        except FileNotFoundError as error:
            raise MetricsReportError(f"{path}: no such metrics.json") from error
        except ValueError as error:
            raise MetricsReportError(f"{path}: not JSON ({error})") from error
        missing = [k for k in _REQUIRED if k not in document] if isinstance(document, dict) else list(_REQUIRED)
        if missing:
            found = sorted(document) if isinstance(document, dict) else type(document).__name__
            raise MetricsReportError(
                f"{path}: not an RSN-TF metrics.json of this version (missing {', '.join(missing)}; found {found}). "
                "Evaluate the model again with rsn-evaluate."
            )
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in document.items() if k in fields})
