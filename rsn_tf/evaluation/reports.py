"""What the evaluate CLI writes: metrics.json, a Markdown table in the paper's columns, a per-image CSV."""

from __future__ import annotations

import csv
import json
import math
import os

from rsn_tf.metrics import METRIC_NAMES

__all__ = ["PAPER_COLUMNS", "format_value", "markdown_table", "write_reports"]

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


def write_reports(out_dir: str, name: str, result, settings: dict) -> dict[str, str]:
    """Write metrics.json, metrics.md and per_image.csv for one EvaluationResult; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f) for k, f in
             (("json", "metrics.json"), ("markdown", "metrics.md"), ("csv", "per_image.csv"))}
    with open(paths["json"], "w") as fh:
        json.dump({"model": name, "settings": settings, "metrics": result.metrics,
                   "region_statistics": result.region_statistics}, fh, indent=2)
    lines = [markdown_table({name: result.metrics}), "",
             f"{result.metrics['num_images']} images; " + ", ".join(f"{k}={v}" for k, v in settings.items())]
    if result.region_statistics:
        lines += ["", "Region statistics (Section 4.2), mean over Algorithm 1's regions:", "",
                  "| map | mean RMSE in region (m) | mean variance in region (m²) | regions |", "|---|---|---|---|"]
        labels = {"ground_truth": "ground-truth depth vs region support",
                  "predicted": "predicted region support vs depth"}
        for key, s in result.region_statistics.items():
            lines.append(f"| {labels[key]} | {format_value(s['mean_rmse'])} | {format_value(s['mean_variance'])} "
                         f"| {s['regions']} |")
    with open(paths["markdown"], "w") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(paths["csv"], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["key", "valid_pixels", *METRIC_NAMES])
        writer.writeheader()
        writer.writerows(result.per_image)
    return paths
