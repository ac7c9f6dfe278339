"""A table's evidence without its checkpoints: what ``rsn-ablation --archive`` keeps after each row.

A seed of Table 3 takes hours of CPU; its run dir holds about 12 MB of checkpoints a row. The
archive keeps, per finished row, the stage dir's small files (manifest, configs, run identity,
the metrics reports), and the module weights only of the rows that later rows initialise from
(Baseline1 and refinement_gt), beside the table's own ablation.json, ablation.md and config.yaml.
Put back as ``--out``, a copy resumes the table: an archived row counts as done (the runner reads
its manifest and report), and the rows still to run start from the same weights as the rows
already run.
"""

from __future__ import annotations

import os
import shutil

from rsn_tf.evaluation.table3.rows import INITIALISING_ROWS, ROWS
from rsn_tf.evaluation.table3.runner import SUMMARY_FILE, TABLE_FILE, finished_metrics
from rsn_tf.metrics_report import MetricsReportError
from rsn_tf.run_dir import CONFIG_FILE, LOGS_DIR, MODULES, RunDir, is_checkpoint_file, weights_file

__all__ = ["archive_table"]

_WEIGHTS_FILES = frozenset(weights_file(module) for module in MODULES)


def archive_table(out_dir: str, archive_dir: str) -> list[str]:
    """Copy ``out_dir``'s table files and its finished rows' evidence to ``archive_dir``; the paths written.

    The table files are the summary, the Markdown table and the config.

    Only finished rows are copied (a row cut off has nothing to keep yet); files already in the
    archive are overwritten, so the archive follows the run.
    """
    written: list[str] = []
    os.makedirs(archive_dir, exist_ok=True)
    for name in (SUMMARY_FILE, TABLE_FILE, CONFIG_FILE):
        source = os.path.join(out_dir, name)
        if os.path.isfile(source):
            written.append(_copy(source, os.path.join(archive_dir, name)))
    run = RunDir(out_dir)
    for row in ROWS.values():
        stage = run.stage(row.name)
        try:
            if finished_metrics(row, stage) is None:
                continue
        except MetricsReportError:  # a report that does not read is not evidence: the row runs again
            continue
        target = os.path.join(archive_dir, row.name)
        os.makedirs(target, exist_ok=True)
        for name in sorted(os.listdir(stage.path)):
            path = os.path.join(stage.path, name)
            if name == LOGS_DIR or not os.path.isfile(path) or is_checkpoint_file(name):
                continue
            if name in _WEIGHTS_FILES and row.name not in INITIALISING_ROWS:
                continue
            written.append(_copy(path, os.path.join(target, name)))
    return written


def _copy(source: str, target: str) -> str:
    """Copy through a temporary file: a machine lost mid-copy leaves the old file, never half a new one."""
    partial = f"{target}.partial"
    shutil.copy2(source, partial)
    os.replace(partial, target)
    return target
