"""The evaluation reports of one result: metrics.json (``rsn_tf.metrics_report.MetricsReport``), a
Markdown table in the paper's columns, a per-image CSV; and the comparison of two reports.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rsn_tf.evaluation.protocol import EvaluationProtocol, check_comparable
from rsn_tf.metrics import METRIC_NAMES, MetricConfig
from rsn_tf.metrics_report import MetricsReport
from rsn_tf.run_dir import METRICS_FILE

if TYPE_CHECKING:
    from rsn_tf.evaluation.evaluator import EvaluationResult

__all__ = [
    "PAPER_COLUMNS",
    "format_value",
    "markdown_table",
    "evaluation_settings",
    "write_reports",
    "report_for",
    "compare_reports",
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


def report_for(
    name: str,
    settings: dict,
    keys: Iterable[str],
    metrics: dict,
    pooled: dict | None = None,
    region_statistics: dict | None = None,
    training: dict | None = None,
) -> MetricsReport:
    """The metrics.json of ``metrics`` scored on the examples ``keys`` under ``settings``, protocol line included."""
    protocol = EvaluationProtocol.from_settings(settings, keys)
    return MetricsReport(
        model=name,
        protocol_line=protocol.line(),
        protocol=protocol.to_dict(),
        settings=settings,
        metrics=metrics,
        pooled_metrics=pooled or {},
        region_statistics=region_statistics or {},
        training=training,
    )


def write_reports(
    out_dir: str, name: str, result: EvaluationResult, settings: dict, training: dict | None = None, write: bool = True
) -> dict:
    """Write metrics.json, metrics.md and per_image.csv for one EvaluationResult.

    Returns the metrics.json document, with the written files' paths under "paths"
    (not in the file). ``write=False`` builds the document only (non-chief workers).
    """
    report = report_for(name, settings, result.keys, result.metrics, result.pooled, result.region_statistics, training)
    protocol = report.protocol
    document = report.to_dict()
    if not write:
        return document
    os.makedirs(out_dir, exist_ok=True)
    paths = {
        k: os.path.join(out_dir, f)
        for k, f in (("json", METRICS_FILE), ("markdown", "metrics.md"), ("csv", "per_image.csv"))
    }
    report.write(paths["json"])
    lines = [
        report.protocol_line,
        "",
        markdown_table({name: result.metrics, f"{name} (pooled over pixels)": result.pooled}),
        "",
        f"{result.metrics['num_images']} images with valid depth of {protocol['frames']}; "
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


def compare_reports(first: str, second: str) -> str:
    """A Markdown table of two metrics.json files and their difference; refuses mismatched protocols."""
    reports = [MetricsReport.read(path) for path in (first, second)]
    check_comparable(*(r.protocol for r in reports), names=(first, second))
    a, b = (r.metrics for r in reports)
    lines = [
        reports[0].protocol_line,
        "",
        "| metric | " + " | ".join(r.model for r in reports) + " | difference |",
        "|---|---|---|---|",
    ]
    for name in METRIC_NAMES:
        lines.append(f"| {name} | {format_value(a[name])} | {format_value(b[name])} | {b[name] - a[name]:+.4f} |")
    return "\n".join(lines)
