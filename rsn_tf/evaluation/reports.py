"""The evaluation reports: metrics.json, a Markdown table in the paper's columns, a per-image CSV.

One metrics.json shape, written here for the evaluate CLI, for every trained stage (by the
trainer) and for the ablation's data-only rows::

    {"model": name,
     "protocol_line": "Protocol: ...",     # the one line every report opens with
     "protocol": {dataset, split, frames, fingerprint, height, width, crop, min_depth,
                  max_depth, alignment, aggregation},     # rsn_tf/evaluation/protocol.py
     "settings": {"dataset", "split", "height", "width", "crop", "min_depth", "max_depth", "alignment"},
     "metrics": {abs_rel, sq_rel, rmse, rmse_log, rmse_log10, log10, delta1..3, silog, num_images},
     "pooled_metrics": {the same, pooled over every valid pixel of the set, num_pixels},
     "region_statistics": {...},            # Section 4.2; may be empty
     "training": {"stage", "steps", "final_losses"}}   # trained stages only

``read_metrics`` returns the "metrics" part of any such file (and of the older trainer
files, which held it under "test").
"""

from __future__ import annotations

import csv
import json
import math
import os

from rsn_tf.evaluation.protocol import EvaluationProtocol
from rsn_tf.metrics import METRIC_NAMES, MetricConfig
from rsn_tf.run_dir import METRICS_FILE

__all__ = [
    "PAPER_COLUMNS",
    "format_value",
    "markdown_table",
    "evaluation_settings",
    "write_reports",
    "write_metrics_document",
    "read_metrics",
]

# The paper's Table 2/3 columns -> our metric names. The paper's RMSE-log is in ln (its
# footnote gives the end-to-end RSN's log10 value too), so both are reported.
PAPER_COLUMNS = (
    ("rel", "abs_rel"),
    ("RMSE-log (ln)", "rmse_log"),
    ("RMSE-log (log10)", "rmse_log10"),
    ("RMSE-lin", "rmse"),
    ("δ<1.25", "delta1"),
    ("δ<1.25²", "delta2"),
    ("δ<1.25³", "delta3"),
)


def format_value(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.4f}"


def markdown_table(rows: dict[str, dict[str, float]]) -> str:
    """One line per named result, in the paper's columns."""
    head = ["model", *(c for c, _ in PAPER_COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, metrics in rows.items():
        lines.append("| " + " | ".join([name, *(format_value(metrics.get(k)) for _, k in PAPER_COLUMNS)]) + " |")
    return "\n".join(lines)


def evaluation_settings(dataset: str, split: str, size: tuple[int, int], metric_config: MetricConfig) -> dict:
    """The "settings" of a metrics.json: what was scored, at which size, under which protocol."""
    return {
        "dataset": dataset,
        "split": split,
        "height": int(size[0]),
        "width": int(size[1]),
        "crop": metric_config.crop,
        "min_depth": metric_config.min_depth,
        "max_depth": metric_config.max_depth,
        "alignment": metric_config.alignment,
    }


def write_metrics_document(path: str, document: dict) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as fh:
        json.dump(document, fh, indent=2)


def read_metrics(path: str) -> dict[str, float]:
    """The metrics of a metrics.json (any RSN-TF version)."""
    with open(path) as fh:
        document = json.load(fh)
    if "metrics" in document:
        return document["metrics"]
    if "test" in document:  # trainer files before the shapes were unified
        return document["test"]
    raise ValueError(f"{path}: not an RSN-TF metrics.json (no 'metrics' key; keys: {sorted(document)})")


def write_reports(
    out_dir: str, name: str, result, settings: dict, training: dict | None = None, write: bool = True
) -> dict:
    """Write metrics.json, metrics.md and per_image.csv for one EvaluationResult.

    Returns the metrics.json document, with the written files' paths under "paths"
    (not in the file). ``write=False`` builds the document only (non-chief workers).
    """
    protocol = EvaluationProtocol.from_settings(settings, result.keys)
    document = {
        "model": name,
        "protocol_line": protocol.line(),
        "protocol": protocol.to_dict(),
        "settings": settings,
        "metrics": result.metrics,
        "pooled_metrics": result.pooled,
        "region_statistics": result.region_statistics,
    }
    if training is not None:
        document["training"] = training
    if not write:
        return document
    os.makedirs(out_dir, exist_ok=True)
    paths = {
        k: os.path.join(out_dir, f)
        for k, f in (("json", METRICS_FILE), ("markdown", "metrics.md"), ("csv", "per_image.csv"))
    }
    write_metrics_document(paths["json"], document)
    lines = [
        protocol.line(),
        "",
        markdown_table({name: result.metrics, f"{name} (pooled over pixels)": result.pooled}),
        "",
        f"{result.metrics['num_images']} images with valid depth of {protocol.frames}; "
        f"{result.pooled.get('num_pixels', 0)} valid pixels.",
    ]
    if result.region_statistics:
        lines += [
            "",
            "Region statistics (Section 4.2), mean over Algorithm 1's regions:",
            "",
            "| map | mean RMSE in region (m) | mean variance in region (m²) | regions |",
            "|---|---|---|---|",
        ]
        labels = {
            "ground_truth": "ground-truth depth vs region support",
            "predicted": "predicted region support vs depth",
        }
        for key, s in result.region_statistics.items():
            lines.append(
                f"| {labels[key]} | {format_value(s['mean_rmse'])} | {format_value(s['mean_variance'])} "
                f"| {s['regions']} |"
            )
    with open(paths["markdown"], "w") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(paths["csv"], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["key", "valid_pixels", *METRIC_NAMES])
        writer.writeheader()
        writer.writerows(result.per_image)
    return {**document, "paths": paths}
