"""The paper's training schedule (Section 3.3) as data: one ``StageSpec`` per stage.

Each stage says which switches the network needs, which loss it minimises, which
earlier stages' weights initialise which module. A leaf module: it imports nothing from rsn_tf.
"""

from __future__ import annotations

import dataclasses

__all__ = ["StageSpec", "STAGES", "STAGE_ORDER", "ALL", "FIGURE_COLUMNS", "get_stage"]


@dataclasses.dataclass(frozen=True)
class StageSpec:
    name: str
    summary: str
    loss: str  # "region" (Lr), "l2" (eq. 1, log space), "iterative" (Li), "combined" (Lc)
    generation_only: bool = False
    # What a generation-only stage regresses: Algorithm 1's region support (the paper's
    # stage 1 and Baseline1) or the depth map itself (Table 3 "generation module for depth").
    target: str = "region_support"
    # Lr variant: None follows --linear_epochs (linear first, then log); "linear" or "log" fixes it.
    region_mode: str | None = None
    guidance: str | None = None  # overrides the preset's refinement guidance (Table 3 semantic row)
    teacher_forcing: bool = False
    freeze_generation: bool = False
    freeze_refinement: bool = False
    # Module -> earlier stages to take its weights from, most preferred first.
    init: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # How far along the paper's schedule the stage's weights are: 0 a pre-trained generation
    # module ... 4 end to end. The most finished stage of a run is the one with the highest rank.
    schedule_rank: int = 0
    # The Figure 3 column this stage provides, if any (rsn-evaluate --figures).
    figure_column: str | None = None

    def to_dict(self) -> dict:
        """What a stage dir's manifest records, so evaluation can rebuild the exact network."""
        return dataclasses.asdict(self)


# Figure 3's columns (the paper's), each provided by the stage whose manifest names it.
RSN_COLUMN = "RSN"
GT_REFINEMENT_COLUMN = "Refinement (GT region support)"
GENERATION_COLUMN = "Generation module"
SEMANTIC_COLUMN = "Semantic guidance"
FIGURE_COLUMNS = (GT_REFINEMENT_COLUMN, GENERATION_COLUMN, SEMANTIC_COLUMN)

ALL = "all"

# The schedule, in order: the only place the stages are listed. The rank is the position.
_SCHEDULE = (
    StageSpec(
        "generation",
        "pre-train the generation module on the region-support target with Lr "
        "(linear for the first --linear_epochs epochs, then log)",
        loss="region",
        generation_only=True,
        schedule_rank=0,
        figure_column=GENERATION_COLUMN,
    ),
    StageSpec(
        "refinement",
        "pre-train the refinement module with Li on ground-truth region support",
        loss="iterative",
        teacher_forcing=True,
        schedule_rank=1,
        figure_column=GT_REFINEMENT_COLUMN,
    ),
    StageSpec(
        "refine_frozen_generation",
        "freeze generation; train refinement with Li on generated region support",
        loss="iterative",
        freeze_generation=True,
        init=(("generation", ("generation",)), ("refinement", ("refinement",))),
        schedule_rank=2,
    ),
    StageSpec(
        "generation_frozen_refinement",
        "freeze refinement; train generation through it with Li",
        loss="iterative",
        freeze_refinement=True,
        init=(
            ("generation", ("refine_frozen_generation", "generation")),
            ("refinement", ("refine_frozen_generation", "refinement")),
        ),
        schedule_rank=3,
    ),
    StageSpec(
        "joint",
        "train both modules end to end with Lc = 0.3 Lr + 0.7 Li",
        loss="combined",
        init=(
            ("generation", ("generation_frozen_refinement", "refine_frozen_generation", "generation")),
            ("refinement", ("generation_frozen_refinement", "refine_frozen_generation", "refinement")),
        ),
        schedule_rank=4,
        figure_column=RSN_COLUMN,
    ),
)
STAGES: dict[str, StageSpec] = {spec.name: spec for spec in _SCHEDULE}
STAGE_ORDER = tuple(STAGES)
assert all(spec.schedule_rank == i for i, spec in enumerate(_SCHEDULE)), "schedule_rank is the position"


def get_stage(name: str) -> StageSpec:
    if name not in STAGES:
        raise ValueError(
            f"--stage={name!r} is not a stage. Choose one of: {', '.join(STAGE_ORDER)}, or '{ALL}' "
            "to run the five in order."
        )
    return STAGES[name]
