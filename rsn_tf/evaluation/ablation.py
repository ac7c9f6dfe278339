"""Table 3 of the paper as data, and the runner that reproduces it under one equal budget per row.

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
import json
import os
import time
from collections.abc import Callable, Sequence

import numpy as np

from rsn_tf.evaluation.reports import PAPER_COLUMNS, format_value, read_metrics, write_metrics_document
from rsn_tf.metrics import MetricConfig, compute_depth_metrics
from rsn_tf.run_dir import RunDir
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
    "PAPER_TABLE3",
    "CLAIMS",
    "select_rows",
    "ground_truth_region_support_metrics",
    "printed_region_support_metrics",
    "summarise_seeds",
    "format_table",
    "check_claims",
    "run_ablation",
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

# Table 3 of the paper (NYU v1+v2, 3264 train / 483 test images), columns as PAPER_COLUMNS
# without the log10 column, which the paper reports only for the end-to-end RSN (0.112).
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

# The paper's three central claims, each as (description, better row, worse rows), judged on RMSE-lin.
CLAIMS = (
    (
        "refinement with ground-truth region support is far better than the generation module alone",
        "refinement_gt",
        ("generation_depth",),
    ),
    ("region-support guidance beats semantic guidance", "refinement_rs_guidance", ("refinement_semantic",)),
    ("the end-to-end RSN beats Baseline1 and Baseline3", "end_to_end", ("baseline1", "baseline3")),
)


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


def ground_truth_region_support_metrics(batches, metric_config: MetricConfig = MetricConfig()) -> dict:
    """Baseline2: Algorithm 1's region support itself scored as a depth map. Needs no model."""
    preds, gts = [], []
    for batch in batches:
        preds.append(np.asarray(batch["region_support"])[..., 0])
        gts.append(np.asarray(batch["depth"])[..., 0])
    # Pixels outside every region have region support 0; the metrics clamp them to min_depth,
    # as they would any prediction of 0, so they count as (large) errors, not as skipped pixels.
    return compute_depth_metrics(np.concatenate(preds), np.concatenate(gts), metric_config)


def printed_region_support_metrics(
    examples, size: tuple[int, int], metric_config: MetricConfig = MetricConfig()
) -> dict:
    """Baseline2 with the printed Algorithm 1: its region support, made at full resolution from each
    test example's labels and depth, resized (nearest, as the input pipeline resizes every target)
    and scored as a depth map against the depth resized the same way."""
    import tensorflow as tf

    from tfds_nyu.region_support import printed_region_support

    preds, gts = [], []
    for example in examples:
        depth = np.asarray(example["depth"], np.float32)
        depth = depth[..., 0] if depth.ndim == 3 else depth
        labels = np.asarray(example["label"])
        labels = labels[..., 0] if labels.ndim == 3 else labels
        r = printed_region_support(labels, depth).region_support
        both = tf.image.resize(np.stack([r, depth], -1), size, method="nearest").numpy()
        preds.append(both[..., 0])
        gts.append(both[..., 1])
    return compute_depth_metrics(np.stack(preds), np.stack(gts), metric_config)


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
            paper = PAPER_TABLE3[name]
            lines.append("| | paper | " + " | ".join(format_value(paper.get(k)) for _, k in PAPER_COLUMNS) + " |")
    return "\n".join(lines)


def check_claims(results: dict[str, dict], metric: str = "rmse") -> list[dict]:
    """For each of the paper's three claims: does it hold on ``results`` (lower ``metric`` is better)?"""
    out = []
    for text, better, worse in CLAIMS:
        rows = (better, *worse)
        if not all(r in results for r in rows):
            out.append(
                {
                    "claim": text,
                    "holds": None,
                    "detail": "rows missing: " + ", ".join(r for r in rows if r not in results),
                }
            )
            continue
        b = results[better][metric]
        holds = all(b < results[w][metric] for w in worse)
        detail = f"{better} {metric} {b:.4f} vs " + ", ".join(f"{w} {results[w][metric]:.4f}" for w in worse)
        out.append({"claim": text, "holds": holds, "detail": detail})
    return out


def run_ablation(
    trainer_factory: Callable[[AblationRow], object],
    rows: Sequence[AblationRow],
    out_dir: str,
    eval_batches: Callable[[], object],
    metric_config: MetricConfig = MetricConfig(),
    say: Callable[[str], None] = print,
    test_examples: Callable[[], object] | None = None,
    size: tuple[int, int] | None = None,
) -> dict[str, dict]:
    """Run ``rows`` in table order, each once; a row whose stage is complete is not run again.

    ``trainer_factory(row)`` returns a Trainer whose model_dir is ``out_dir`` (every row is a
    stage dir there, so rows initialise from each other) and whose budget is the row's.
    ``eval_batches()`` yields the test split's batches (Baseline2 needs nothing else);
    ``test_examples()`` yields its full-resolution examples and ``size`` is the model's
    (height, width), for the printed Baseline2, which remakes the region support.
    """
    os.makedirs(out_dir, exist_ok=True)
    run = RunDir(out_dir)
    results: dict[str, dict] = {}
    summary = os.path.join(out_dir, "ablation.json")
    timings: dict[str, float] = {}
    if os.path.exists(summary):  # a resumed run keeps the times of the rows it does not run again
        with open(summary) as fh:
            timings = json.load(fh).get("seconds", {})
    for index, row in enumerate(rows, 1):
        stage = run.stage(row.name)
        # A trained row is done when its stage is complete; a data row when its metrics exist.
        done = stage.complete if row.kind != "data" else os.path.exists(stage.metrics_path)
        if done:
            results[row.name] = read_metrics(stage.metrics_path)
            say(f"[{index}/{len(rows)}] {row.title}: done earlier ({stage.path})")
            continue
        say(f"\n[{index}/{len(rows)}] {row.title}")
        start = time.perf_counter()
        if row.name == "baseline2_printed":
            if test_examples is None or size is None:
                raise ValueError("baseline2_printed needs test_examples and size")
            metrics = printed_region_support_metrics(test_examples(), size, metric_config)
            write_metrics_document(
                stage.metrics_path, {"model": row.name, "settings": {}, "metrics": metrics, "region_statistics": {}}
            )
        elif row.kind == "data":
            metrics = ground_truth_region_support_metrics(eval_batches(), metric_config)
            write_metrics_document(
                stage.metrics_path, {"model": row.name, "settings": {}, "metrics": metrics, "region_statistics": {}}
            )
        else:
            metrics = trainer_factory(row).run(row.stage)["metrics"]
        timings[row.name] = time.perf_counter() - start
        results[row.name] = metrics
    with open(summary, "w") as fh:
        json.dump({"results": results, "seconds": timings, "claims": check_claims(results)}, fh, indent=2)
    with open(os.path.join(out_dir, "ablation.md"), "w") as fh:
        fh.write(format_table(results) + "\n")
    return results


# A claim's verdict over seeds: paired differences (better row minus worse row, per seed).
# "holds" when every seed agrees and the mean difference exceeds twice its standard error;
# "fails" likewise the other way; anything else is "within noise".
NOISE_STANDARD_ERRORS = 2.0


def summarise_seeds(per_seed: dict[int, dict[str, dict]], metric: str = "rmse") -> dict:
    """Mean and std over seeds of every row's metrics, and each claim's verdict over seeds.

    ``per_seed`` maps a seed to its results (row -> metrics), as ``ablation.json`` holds them.
    """
    seeds = sorted(per_seed)
    rows = [r for r in ROW_ORDER if all(r in per_seed[s] for s in seeds)]
    table = {}
    for row in rows:
        keys = [k for _, k in PAPER_COLUMNS if all(k in per_seed[s][row] for s in seeds)]
        values = {k: np.array([per_seed[s][row][k] for s in seeds], np.float64) for k in keys}
        table[row] = {k: (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0) for k, v in values.items()}
    claims = []
    for text, better, worse in CLAIMS:
        if not all(r in rows for r in (better, *worse)):
            claims.append({"claim": text, "verdict": "not tested", "detail": "rows missing"})
            continue
        verdicts, details = [], []
        for w in worse:
            diff = np.array([per_seed[s][better][metric] - per_seed[s][w][metric] for s in seeds])
            mean = float(diff.mean())
            se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("inf")
            if np.all(diff < 0) and -mean > NOISE_STANDARD_ERRORS * se:
                verdicts.append("holds")
            elif np.all(diff > 0) and mean > NOISE_STANDARD_ERRORS * se:
                verdicts.append("fails")
            else:
                verdicts.append("within noise")
            base = float(np.mean([per_seed[s][w][metric] for s in seeds]))
            details.append(
                f"{better} - {w}: {mean:+.4f} m ({100 * mean / base:+.1f}%), standard error {se:.4f}, "
                f"per seed {', '.join(f'{d:+.4f}' for d in diff)}"
            )
        verdict = verdicts[0] if len(set(verdicts)) == 1 else "mixed: " + ", ".join(verdicts)
        claims.append({"claim": text, "verdict": verdict, "detail": "; ".join(details)})
    return {"seeds": seeds, "metric": metric, "table": table, "claims": claims}


def format_seed_table(summary: dict) -> str:
    """Markdown: mean ± std over seeds per row."""
    head = ["Table 3 row", *(c for c, _ in PAPER_COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row, values in summary["table"].items():
        cells = [f"{values[k][0]:.4f} ± {values[k][1]:.4f}" if k in values else "–" for _, k in PAPER_COLUMNS]
        lines.append("| " + " | ".join([ROWS[row].title, *cells]) + " |")
    return "\n".join(lines)
