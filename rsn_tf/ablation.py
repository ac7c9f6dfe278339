"""Reproduce the paper's Table 3: train and evaluate every ablation row under one equal budget.

    python -m rsn_tf.ablation                                  # synthetic data, tiny preset, every row
    python -m rsn_tf.ablation --rows=baseline2,baseline1 --epochs=1 --steps_per_epoch=5   # a smoke run
    python -m rsn_tf.ablation --dataset=nyu_region_support/merged --preset=paper --epochs=40

Every trained row gets the same number of steps (``--epochs`` x ``--steps_per_epoch``)
with the preset's optimizer; Baseline2 needs no model and Baseline3 is assembled from
the Baseline1 and refinement_gt rows. Each row is a stage dir under ``--out``
(checkpoints, weights, metrics.json), so an interrupted run resumes where it stopped and
finished rows are not run again. The table is printed beside the paper's numbers and
written to ``<out>/ablation.md`` and ``<out>/ablation.json`` (with the three claims).
Row definitions: rsn_tf/evaluation/ablation.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Default epochs per trained row, per preset: `tiny` fits the whole table in <= 60 minutes
# on 2 CPU cores (BENCHMARKS.md); the others follow the paper's 40 epochs.
DEFAULT_EPOCHS = {"tiny": 8, "small": 40, "paper": 40}


def _check_settings(out: str, settings: dict) -> None:
    """Rows of one table must share one budget: refuse to mix settings in an existing --out."""
    path = os.path.join(out, "settings.json")
    if os.path.exists(path):
        with open(path) as fh:
            earlier = json.load(fh)
        changed = {k: (earlier.get(k), v) for k, v in settings.items() if earlier.get(k) != v}
        if changed:
            what = ", ".join(f"--{k}={new} (was {old})" for k, (old, new) in changed.items())
            raise ValueError(f"{out} holds rows run with other settings: {what}. Use another --out, or the "
                             "earlier settings to resume; mixing them would make the rows' budgets unequal.")
        return
    os.makedirs(out, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(settings, fh, indent=2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="nyu_region_support/synthetic", help="TFDS name/config")
    parser.add_argument("--data_dir", default=None, help="TFDS data dir")
    parser.add_argument("--manual_dir", default=None, help="NYU .mat files, if the dataset must be built")
    parser.add_argument("--preset", default="tiny", help="model preset: paper, small or tiny")
    parser.add_argument("--out", default="runs/ablation", help="one stage dir per row, plus ablation.md/json")
    parser.add_argument("--rows", default="all", help="comma-separated row names (default: all)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per trained row (the equal budget)")
    parser.add_argument("--steps_per_epoch", type=int, default=None, help="default: one pass over train")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--eval_batches", type=int, default=None, help="test batches (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras

    from rsn_tf.evaluation.ablation import check_claims, format_table, run_ablation, select_rows
    from rsn_tf.training.config import OptimizerConfig, TrainConfig, training_defaults
    from rsn_tf.training.stages import StageSpec
    from rsn_tf.training.trainer import Trainer, TrainingError
    from rsn_tf.training.task import RSNTask

    try:
        rows = select_rows(args.rows)
        defaults = training_defaults(args.preset)
        epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS.get(args.preset, 40)
        if epochs < 1:
            raise ValueError(f"--epochs={epochs}: every trained row needs at least one epoch")
        base = TrainConfig(
            stage="ablation", model_dir=args.out, preset=args.preset, dataset=args.dataset,
            data_dir=args.data_dir, manual_dir=args.manual_dir, batch_size=args.batch_size, epochs=epochs,
            steps_per_epoch=args.steps_per_epoch, seed=args.seed, eval_batches=args.eval_batches,
            optimizer=OptimizerConfig(defaults["optimizer"], defaults["learning_rate"], defaults["lr_schedule"]),
            image_summaries=0, checkpoint_every_steps=100,
        )

        def trainer_for(row):
            keras.utils.set_random_seed(args.seed)  # every row starts from the same initialisation
            return Trainer(dataclasses.replace(base, stage=row.name, epochs=epochs if row.kind == "train" else 0))

        def eval_batches():
            task = RSNTask(base, StageSpec(name="baseline2", summary="", loss="iterative"))
            ds = task.build_inputs(Trainer(base).builder(), "test", training=False)
            return ds.take(args.eval_batches) if args.eval_batches else ds

        _check_settings(args.out, {"dataset": args.dataset, "preset": args.preset, "epochs": epochs,
                                   "steps_per_epoch": args.steps_per_epoch, "batch_size": args.batch_size,
                                   "seed": args.seed, "eval_batches": args.eval_batches})
        start = time.perf_counter()
        print(f"Table 3 ablation: {len(rows)} row(s), {args.preset} preset, {args.dataset}, "
              f"{epochs} epoch(s) per trained row, output in {args.out}/", flush=True)
        results = run_ablation(trainer_for, rows, args.out, eval_batches)
    except (TrainingError, ValueError, FileNotFoundError) as error:
        print(f"\nablation: {error}", file=sys.stderr)
        return 2
    print(f"\n{format_table(results)}\n")
    for claim in check_claims(results):
        verdict = {True: "HOLDS", False: "does NOT hold", None: "not tested"}[claim["holds"]]
        print(f"- {claim['claim']}: {verdict} ({claim['detail']})")
    print(f"\n{len(rows)} row(s) in {time.perf_counter() - start:.0f} s; table in {args.out}/ablation.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
