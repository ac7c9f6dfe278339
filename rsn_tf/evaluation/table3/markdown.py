"""Table 3 in Markdown: one run beside the paper's numbers, or mean ± std over seeds."""

from __future__ import annotations

from rsn_tf.evaluation.reports import PAPER_COLUMNS, format_value
from rsn_tf.evaluation.table3.rows import PAPER_TABLE3, ROW_ORDER, ROWS

__all__ = ["format_table", "format_seed_table"]


def format_table(results: dict[str, dict], with_paper: bool = True) -> str:
    """Markdown: one line per row with our metrics, and the paper's under it."""
    head = ["Table 3 row", "source", *(c for c, _ in PAPER_COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in ROW_ORDER:
        if name not in results:
            continue
        ours = results[name]
        lines.append(
            "| " + " | ".join([ROWS[name].title, "ours", *(format_value(ours.get(k)) for _, k in PAPER_COLUMNS)]) + " |"
        )
        if with_paper:
            paper = PAPER_TABLE3.get(name)  # absent for our control rows: the paper has no such row
            source = "paper" if paper is not None else "paper: no such row"
            cells = (format_value((paper or {}).get(k)) for _, k in PAPER_COLUMNS)
            lines.append(f"| | {source} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_seed_table(summary: dict) -> str:
    """Markdown: mean ± std over seeds per row."""
    head = ["Table 3 row", *(c for c, _ in PAPER_COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row, values in summary["table"].items():
        cells = [f"{values[k][0]:.4f} ± {values[k][1]:.4f}" if k in values else "–" for _, k in PAPER_COLUMNS]
        lines.append("| " + " | ".join([ROWS[row].title, *cells]) + " |")
    return "\n".join(lines)
