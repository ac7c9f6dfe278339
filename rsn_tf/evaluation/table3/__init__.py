"""Table 3 of the paper, reproduced under one equal budget per row.

One job per module: ``rows`` (the rows as data and the paper's numbers), ``baseline2`` (the
rows scored from the data alone), ``claims`` (the paper's three claims and our "guidance
helps", judged on one run or over seeds), ``markdown`` (the tables), ``runner``
(``run_ablation``, driven by rsn-ablation, which passes in the trainers) and ``archive`` (what a
table keeps without its checkpoints).
"""

from rsn_tf.evaluation.table3.archive import archive_table
from rsn_tf.evaluation.table3.baseline2 import ground_truth_region_support_metrics, printed_region_support_metrics
from rsn_tf.evaluation.table3.claims import CLAIMS, NOISE_STANDARD_ERRORS, check_claims, summarise_seeds
from rsn_tf.evaluation.table3.markdown import format_seed_table, format_table
from rsn_tf.evaluation.table3.rows import (
    GUIDED_ROWS,
    INITIALISING_ROWS,
    NO_GUIDANCE_ROW,
    PAPER_TABLE3,
    ROW_ORDER,
    ROWS,
    AblationRow,
    select_rows,
)
from rsn_tf.evaluation.table3.runner import SUMMARY_FILE, TABLE_FILE, run_ablation

__all__ = [
    "SUMMARY_FILE",
    "TABLE_FILE",
    "AblationRow",
    "ROWS",
    "ROW_ORDER",
    "PAPER_TABLE3",
    "GUIDED_ROWS",
    "NO_GUIDANCE_ROW",
    "CLAIMS",
    "NOISE_STANDARD_ERRORS",
    "select_rows",
    "ground_truth_region_support_metrics",
    "printed_region_support_metrics",
    "check_claims",
    "summarise_seeds",
    "format_table",
    "format_seed_table",
    "run_ablation",
    "archive_table",
    "INITIALISING_ROWS",
]
