"""Table 3's rows as data: what each row trains or scores, and the paper's numbers for it.

Every row is either a training stage (a ``StageSpec`` the trainer runs for the same
number of steps as every other trained row), a model assembled from earlier rows and
evaluated without training (Baseline3), or a property of the data alone (Baseline2).

How each row maps to our code (the paper's wording in quotes):

==========================  ===========================================================
row                         what runs
==========================  ===========================================================
baseline1                   generation module alone, log Lr on Algorithm 1's region
                            support; its region support is scored as a depth map
generation_depth            generation module alone, log Lr on the depth map
generation_depth_linear     the same with linear Lr
generation_depth_l2         the same with L2 (eq. 1) in log space ("in log space")
baseline2                   ground-truth region support scored as a depth map; no model
baseline2_printed           the same with the printed Algorithm 1 (``printed_region_support``:
                            bin edges, the top bin and small bins left at R = 0), which
                            is what the paper's 1.29 m looks like
refinement_gt               refinement on ground-truth region support (teacher forcing)
refinement_rs_guidance      refinement trained from scratch on the region support of
                            the frozen Baseline1 generation module (guidance and coarse
                            depth)
refinement_semantic         the same, but the guidance is the semantic label map; the
                            coarse depth is still Baseline1's region support, so the
                            two rows differ only in the guidance
refinement_no_guidance      our control, not a row of the paper: the same with no
                            guidance at all (RGB + coarse depth, Table 1's 4-channel
                            input), so "guidance helps" has a row to be judged against
baseline3                   Baseline1 generation + refinement_gt, no further training
freeze_refinement           from Baseline3: train generation through the frozen refinement (Li)
freeze_generation           from Baseline3: train refinement on generated region support (Li)
end_to_end                  from Baseline3: train both with Lc (the paper's schedule runs
                            it after the freeze stages; here it starts from Baseline3 so
                            that its budget equals the other rows')
==========================  ===========================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from rsn_tf.schedule import (
    GENERATION_COLUMN,
    GT_REFINEMENT_COLUMN,
    RSN_COLUMN,
    SEMANTIC_COLUMN,
    StageSpec,
)

__all__ = [
    "AblationRow",
    "ROWS",
    "ROW_ORDER",
    "INITIALISING_ROWS",
    "PAPER_TABLE3",
    "GUIDED_ROWS",
    "NO_GUIDANCE_ROW",
    "select_rows",
]


@dataclasses.dataclass(frozen=True)
class AblationRow:
    name: str
    title: str  # the paper's row label
    kind: str  # "train" | "assemble" (evaluate earlier rows' weights) | "data"
    stage: StageSpec | None = None


def _row(name: str, title: str, **stage: object) -> AblationRow:
    return AblationRow(name, title, "train", StageSpec(name=name, summary=title, **stage))


_B3 = (("generation", ("baseline1",)), ("refinement", ("refinement_gt",)))
_GEN = (("generation", ("baseline1",)),)

ROWS: dict[str, AblationRow] = {
    r.name: r
    for r in (
        _row(
            "baseline1",
            "Baseline1: generation for region support",
            loss="region",
            generation_only=True,
            region_mode="log",
        ),
        _row(
            "generation_depth",
            "Generation module for depth inference",
            loss="region",
            generation_only=True,
            target="depth",
            region_mode="log",
            figure_column=GENERATION_COLUMN,
        ),
        _row(
            "generation_depth_linear",
            "Generation module, with linear loss",
            loss="region",
            generation_only=True,
            target="depth",
            region_mode="linear",
        ),
        _row("generation_depth_l2", "Generation module, with L2 loss", loss="l2", generation_only=True, target="depth"),
        AblationRow("baseline2", "Baseline2: analysis of ground truth", "data"),
        AblationRow("baseline2_printed", "Baseline2, printed Algorithm 1 (gaps kept)", "data"),
        _row(
            "refinement_gt",
            "Refinement module with ground truth",
            loss="iterative",
            teacher_forcing=True,
            schedule_rank=1,
            figure_column=GT_REFINEMENT_COLUMN,
        ),
        _row(
            "refinement_rs_guidance",
            "Refinement, region support guidance",
            loss="iterative",
            freeze_generation=True,
            init=_GEN,
            schedule_rank=1,
        ),
        _row(
            "refinement_semantic",
            "Refinement, with semantic guidance",
            loss="iterative",
            freeze_generation=True,
            init=_GEN,
            guidance="semantic",
            schedule_rank=1,
            figure_column=SEMANTIC_COLUMN,
        ),
        # The control of the two guidance rows: identical to refinement_rs_guidance (frozen Baseline1
        # generation, the same initialisation, loss and budget) but with nothing in the guidance slot.
        _row(
            "refinement_no_guidance",
            "Refinement, no guidance (control, not in the paper)",
            loss="iterative",
            freeze_generation=True,
            init=_GEN,
            guidance="none",
            schedule_rank=1,
        ),
        AblationRow(
            "baseline3",
            "Baseline3: initialised from Baseline1",
            "assemble",
            StageSpec(
                name="baseline3",
                summary="Baseline1 generation + refinement_gt, evaluated as is",
                loss="iterative",
                freeze_generation=True,
                freeze_refinement=True,
                init=_B3,
                schedule_rank=1,
            ),
        ),
        _row(
            "freeze_refinement",
            "RSN: freeze refinement",
            loss="iterative",
            freeze_refinement=True,
            init=_B3,
            schedule_rank=3,
        ),
        _row(
            "freeze_generation",
            "RSN: freeze generation",
            loss="iterative",
            freeze_generation=True,
            init=_B3,
            schedule_rank=2,
        ),
        _row("end_to_end", "RSN: end-to-end", loss="combined", init=_B3, schedule_rank=4, figure_column=RSN_COLUMN),
    )
}
ROW_ORDER = tuple(ROWS)
# The rows whose weights later rows start from (the init lists above): a table keeps their weights.
INITIALISING_ROWS = frozenset(
    source for row in ROWS.values() if row.stage for _, sources in row.stage.init for source in sources
)
# The refinement rows that differ only in their guidance: the paper's two, and our control.
GUIDED_ROWS = ("refinement_rs_guidance", "refinement_semantic")
NO_GUIDANCE_ROW = "refinement_no_guidance"

# Table 3 of the paper (NYU v1+v2, 3264 train / 483 test images), columns as PAPER_COLUMNS
# without the log10 column, which the paper reports only for the end-to-end RSN (0.112).
# Rows of ours that the paper does not have (the refinement_no_guidance control) are absent.
PAPER_TABLE3: dict[str, dict[str, float]] = {
    name: dict(zip(("abs_rel", "rmse_log", "rmse", "delta1", "delta2", "delta3"), values))
    for name, values in {
        "baseline1": (0.2334, 0.2852, 0.7737, 0.6111, 0.8769, 0.9648),
        "generation_depth": (0.2350, 0.2639, 0.7367, 0.6517, 0.8932, 0.9715),
        "generation_depth_linear": (0.2572, 0.2855, 0.7805, 0.6114, 0.8456, 0.9650),
        "generation_depth_l2": (0.2503, 0.2784, 0.7681, 0.6217, 0.8682, 0.9663),
        "baseline2": (0.5063, 0.4763, 1.29, 0.615, 0.9016, 0.9742),
        "baseline2_printed": (0.5063, 0.4763, 1.29, 0.615, 0.9016, 0.9742),  # the same printed row
        "refinement_gt": (0.0851, 0.1057, 0.2917, 0.9528, 0.9938, 0.9988),
        "refinement_rs_guidance": (0.3471, 0.3764, 1.056, 0.4497, 0.7643, 0.9191),
        "refinement_semantic": (0.3345, 0.3235, 0.9806, 0.4847, 0.8005, 0.9345),
        "baseline3": (0.2922, 0.3472, 0.8673, 0.4648, 0.7935, 0.9372),
        "freeze_refinement": (0.2563, 0.2852, 0.7737, 0.6111, 0.8769, 0.9648),
        "freeze_generation": (0.2692, 0.2993, 0.7922, 0.5725, 0.8596, 0.9601),
        "end_to_end": (0.196, 0.172, 0.681, 0.792, 0.961, 0.987),
    }.items()
}
PAPER_TABLE3["end_to_end"]["rmse_log10"] = 0.112


def select_rows(names: str | Sequence[str] | None) -> list[AblationRow]:
    """The rows to run, in table order; ``None`` or "all" selects every row."""
    if names is None or names == "all":
        return list(ROWS.values())
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise ValueError(f"--rows: unknown row(s) {unknown}; choose from {', '.join(ROW_ORDER)} or 'all'")
    return [ROWS[n] for n in ROW_ORDER if n in names]
