"""Evaluate a depth source over a dataset split: Table 2 metrics per image and averaged,
Section 4.2 region statistics, and the first N examples kept for figures."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from rsn_tf.depth_sources import DepthSource
from rsn_tf.evaluation.region_statistics import RegionStatistics
from rsn_tf.metrics import (
    METRIC_NAMES,
    SUM_NAMES,
    MetricConfig,
    metrics_from_sums,
    per_image_sums,
    pooled_metrics,
    valid_mask,
)

__all__ = ["EvaluationResult", "evaluate_source"]


@dataclasses.dataclass
class EvaluationResult:
    metrics: dict[str, float]  # per-image averages (compute_depth_metrics' convention)
    per_image: list[dict]  # one row per image: key, valid_pixels, every metric
    region_statistics: dict[str, dict[str, float]]
    examples: dict[str, list] = dataclasses.field(default_factory=dict)  # kept for figures
    pooled: dict[str, float] = dataclasses.field(default_factory=dict)  # whole-set pixel pooling

    @property
    def keys(self) -> list[str]:
        """Every evaluated example's id, in order (the split's fingerprint is made from them)."""
        return [row["key"] for row in self.per_image]


def _as_numpy(batch: dict) -> dict:
    return {k: (v.numpy() if hasattr(v, "numpy") else np.asarray(v)) for k, v in batch.items()}


def evaluate_source(
    source: DepthSource,
    batches: Iterable[dict],
    metric_config: MetricConfig = MetricConfig(),
    keep: int = 0,
    compare: Sequence[DepthSource] = (),
    total: int | None = None,
    progress: bool = True,
) -> EvaluationResult:
    """Run ``source`` on every batch; ``compare`` sources run only on the ``keep`` examples kept."""
    from tqdm import tqdm

    rows: list[dict] = []
    totals = {name: 0.0 for name in SUM_NAMES}
    stats = RegionStatistics()
    examples: dict[str, list] = {
        k: [] for k in ("key", "rgb", "depth", "regions", "region_support", "predicted_region_support", source.name)
    }
    for other in compare:
        examples[other.name] = []
    bar = tqdm(total=total, desc=f"evaluate {source.name}", unit="img", disable=not progress, dynamic_ncols=True)
    for batch in batches:
        batch = _as_numpy(batch)
        out = source.predict(batch)
        pred, gt = out["depth"], batch["depth"][..., 0]
        if pred.shape != gt.shape:
            raise ValueError(f"{source.path}: predicted depth has shape {pred.shape}, ground truth {gt.shape}")
        sums = per_image_sums(pred, gt, metric_config)
        metrics = metrics_from_sums(sums)
        metrics["valid_pixels"] = sums["n"]
        for name in SUM_NAMES:
            totals[name] += float(sums[name].sum())
        keys = [k.decode() if isinstance(k, bytes) else str(k) for k in batch["key"]]
        for i, key in enumerate(keys):
            rows.append(
                {
                    "key": key,
                    "valid_pixels": int(metrics["valid_pixels"][i]),
                    **{name: float(metrics[name][i]) for name in METRIC_NAMES},
                }
            )
            valid = valid_mask(gt[i], metric_config)
            predicted_rs = None if out["region_support"] is None else out["region_support"][i]
            stats.update(gt[i], batch["region_support"][i, ..., 0], batch["regions"][i, ..., 0], valid, predicted_rs)
        room = keep - len(examples["key"])
        if room > 0:
            take = slice(0, min(room, len(keys)))
            examples["key"] += keys[take]
            examples["rgb"] += list(batch["image"][take])
            examples["depth"] += list(gt[take])
            examples["regions"] += list(batch["regions"][take, ..., 0])
            examples["region_support"] += list(batch["region_support"][take, ..., 0])
            if out["region_support"] is not None:
                examples["predicted_region_support"] += list(out["region_support"][take])
            examples[source.name] += list(pred[take])
            small = {k: v[take] for k, v in batch.items()}
            for other in compare:
                examples[other.name] += list(other.predict(small)["depth"])
        bar.update(len(keys))
    bar.close()
    counted = [r for r in rows if r["valid_pixels"] > 0]
    if not counted:
        raise ValueError(
            "no image of the split has a valid ground-truth pixel in the evaluation range "
            f"({metric_config.min_depth}, {metric_config.max_depth}) m"
        )
    averages = {name: float(np.mean([r[name] for r in counted])) for name in METRIC_NAMES}
    averages["num_images"] = len(counted)
    return EvaluationResult(averages, rows, stats.result(), examples, pooled_metrics(totals))
