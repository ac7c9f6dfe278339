"""The Table 3 runner: every selected row once, under one equal budget, resumable.

Training is not imported here: the caller (rsn-ablation) passes a factory of trainers, so this
package stays below rsn_tf.training.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence

from rsn_tf.evaluation.reports import evaluation_settings, report_for
from rsn_tf.evaluation.table3.baseline2 import ground_truth_region_support_metrics, printed_region_support_metrics
from rsn_tf.evaluation.table3.claims import check_claims
from rsn_tf.evaluation.table3.markdown import format_table
from rsn_tf.evaluation.table3.rows import INITIALISING_ROWS, AblationRow
from rsn_tf.files import atomic_write_json
from rsn_tf.metrics import MetricConfig
from rsn_tf.metrics_report import MetricsReport, MetricsReportError
from rsn_tf.run_dir import RunDir, StageDir

__all__ = ["run_ablation", "finished_metrics", "SUMMARY_FILE", "TABLE_FILE"]

# What a table run writes in its out dir (rsn-ablation --summarise reads the first).
SUMMARY_FILE = "ablation.json"
TABLE_FILE = "ablation.md"


def finished_metrics(row: AblationRow, stage: StageDir) -> dict | None:
    """The metrics of a row done earlier, or None when it must run.

    A trained row is done when its manifest says complete and its report exists (it must read:
    MetricsReportError otherwise). Its weights may be gone (an archived row, rsn-ablation
    --archive), except for the rows later rows start from (INITIALISING_ROWS): without their
    weights they run again, rather than let the later rows start from random weights. A data row
    is done when its report exists and reads; data rows written before they carried a protocol
    line are scored again: that takes seconds, and the new report has the line.
    """
    if row.kind != "data":
        if not stage.read_manifest().get("complete"):
            return None
        if stage.complete or (row.name not in INITIALISING_ROWS and os.path.exists(stage.metrics_path)):
            return MetricsReport.read(stage.metrics_path).metrics
        return None
    if not os.path.exists(stage.metrics_path):
        return None
    try:
        return MetricsReport.read(stage.metrics_path).metrics
    except MetricsReportError:
        return None


def run_ablation(
    trainer_factory: Callable[[AblationRow], object],
    rows: Sequence[AblationRow],
    out_dir: str,
    eval_batches: Callable[[], object],
    metric_config: MetricConfig = MetricConfig(),
    say: Callable[[str], None] = print,
    test_examples: Callable[[], object] | None = None,
    size: tuple[int, int] | None = None,
    dataset: str = "",
    after_row: Callable[[], None] | None = None,
) -> dict[str, dict]:
    """Run ``rows`` in table order, each once; a row done earlier (``finished_metrics``) is not run again.

    ``trainer_factory(row)`` returns a Trainer whose model_dir is ``out_dir`` (every row is a
    stage dir there, so rows initialise from each other) and whose budget is the row's.
    ``eval_batches()`` yields the test split's batches (Baseline2 needs nothing else);
    ``test_examples()`` yields its full-resolution examples and ``size`` is the model's
    (height, width), for the printed Baseline2, which remakes the region support; ``dataset``
    names the data in the data rows' reports (their protocol line). ``after_row()`` is called
    after each row that ran, once its results are in ablation.json (rsn-ablation --archive).
    """
    os.makedirs(out_dir, exist_ok=True)
    run = RunDir(out_dir)
    results: dict[str, dict] = {}
    summary = os.path.join(out_dir, SUMMARY_FILE)
    timings: dict[str, float] = {}
    # Seconds already spent on rows that a stop cut off: added to the row's time when it completes,
    # so that the table's wall time per row and in all counts every process that worked on it.
    cut_off: dict[str, float] = {}
    if os.path.exists(summary):  # a resumed run keeps the times of the rows it does not run again
        with open(summary) as fh:
            earlier_summary = json.load(fh)
        timings = earlier_summary.get("seconds", {})
        cut_off = earlier_summary.get("cut_off_seconds", {})
    for index, row in enumerate(rows, 1):
        stage = run.stage(row.name)
        earlier = finished_metrics(row, stage)
        if earlier is not None:
            results[row.name] = earlier
            say(f"[{index}/{len(rows)}] {row.title}: done earlier ({stage.path})")
            continue
        say(f"\n[{index}/{len(rows)}] {row.title}")
        start = time.perf_counter()
        if row.kind == "data":
            if row.name == "baseline2_printed":
                if test_examples is None or size is None:
                    raise ValueError("baseline2_printed needs test_examples and size")
                metrics, keys = printed_region_support_metrics(test_examples(), size, metric_config)
            else:
                metrics, keys = ground_truth_region_support_metrics(eval_batches(), metric_config)
            settings = evaluation_settings(dataset, "test", size or (0, 0), metric_config)
            report_for(row.name, settings, keys, metrics).write(stage.metrics_path)
        else:
            try:
                metrics = trainer_factory(row).run(row.stage)["metrics"]
            except BaseException:  # preempted (exit 42), interrupted or failed: keep the time it took
                cut_off[row.name] = cut_off.get(row.name, 0.0) + time.perf_counter() - start
                _write_summary(out_dir, results, timings, cut_off)
                raise
        timings[row.name] = cut_off.pop(row.name, 0.0) + time.perf_counter() - start
        results[row.name] = metrics
        _write_summary(out_dir, results, timings, cut_off)  # after every row: a stop loses no finished row's time
        if after_row is not None:
            after_row()
    _write_summary(out_dir, results, timings, cut_off)
    return results


def _write_summary(out_dir: str, results: dict, timings: dict, cut_off: dict) -> None:
    """ablation.json (results, seconds per row, the claims) and ablation.md, for the rows so far."""
    document = {"results": results, "seconds": timings, "claims": check_claims(results)}
    if cut_off:
        document["cut_off_seconds"] = cut_off
    atomic_write_json(os.path.join(out_dir, SUMMARY_FILE), document)
    with open(os.path.join(out_dir, TABLE_FILE), "w") as fh:
        fh.write(format_table(results) + "\n")
