"""rsn-ablation: reproduce the paper's Table 3, every row trained and evaluated under one equal budget.

    rsn-ablation                                       # synthetic data, tiny preset, every row
    rsn-ablation --rows=baseline2,baseline1 --epochs=1 --steps_per_epoch=5   # a smoke run
    rsn-ablation --dataset=nyu_region_support/merged --preset=paper --epochs=40

Every trained row gets the same number of steps (``--epochs`` x ``--steps_per_epoch``)
with the preset's optimizer; Baseline2 needs no model and Baseline3 is assembled from
the Baseline1 and refinement_gt rows. Each row is a stage dir under ``--out`` (a run
dir: checkpoints, weights, metrics.json), so an interrupted run resumes where it stopped
and finished rows are not run again. The resolved config goes to ``<out>/config.yaml``; a
resumed run must use the same budget. The table is printed beside the paper's numbers
and written to ``<out>/ablation.md`` and ``<out>/ablation.json`` (with the claims).
Row definitions: rsn_tf/evaluation/table3/rows.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from absl import flags

from rsn_tf.cli import common

# The experiment-config keys the ablation exposes; --out is trainer.model_dir.
CONFIG_KEYS = (
    "data.dataset",
    "data.data_dir",
    "data.manual_dir",
    "model.preset",
    "trainer.model_dir",
    "trainer.epochs",
    "trainer.steps_per_epoch",
    "data.batch_size",
    "data.eval_batches",
    "data.augment_scale",
    "trainer.seed",
)
# What makes the rows of one table comparable: a resumed run must not change these.
BUDGET_KEYS = tuple(k for k in CONFIG_KEYS if k not in ("trainer.model_dir", "data.data_dir", "data.manual_dir"))
DEFAULT_OUT = "runs/ablation"

FLAGS = common.new_flag_values()
CONFIG_FLAGS = common.define_config_flags(
    FLAGS, only=CONFIG_KEYS, rename={"trainer.model_dir": "out"}, purpose="ablation"
)
flags.DEFINE_string("rows", "all", "Comma-separated row names (default: all).", flag_values=FLAGS)
flags.DEFINE_list(
    "summarise",
    [],
    "Only summarise finished runs, one --out per seed (e.g. runs/abl_s0,runs/abl_s1,runs/abl_s2): mean ± std "
    "per row and each claim's verdict over seeds (holds / fails / within noise), written to the first run's "
    "folder as ablation_seeds.md and .json.",
    flag_values=FLAGS,
)


flags.DEFINE_string(
    "archive",
    None,
    "After every row, copy the table's evidence to this dir (e.g. docs/ablation/<table>): ablation.json/.md, "
    "config.yaml and each finished row's manifest, configs and reports, without checkpoints; module weights only "
    "for the rows later rows start from. A copy of it as --out resumes the table.",
    flag_values=FLAGS,
)


def _check_budget(out: str, config) -> None:
    """Rows of one table must share one budget: refuse to resume with other settings."""
    from rsn_tf import config as config_lib
    from rsn_tf.run_dir import RunDir

    path = RunDir(out).config_path
    if not os.path.exists(path):
        return
    earlier = config_lib.flatten(config_lib.load_file(path))
    now = config_lib.flatten(config_lib.to_dict(config))
    flag_of = {key: name for name, key in CONFIG_FLAGS.items()}
    changed = {k: (earlier.get(k), now[k]) for k in BUDGET_KEYS if earlier.get(k) != now[k]}
    if changed:
        what = ", ".join(f"--{flag_of[k]}={new} (was {old})" for k, (old, new) in changed.items())
        raise common.CliError(
            f"{out} holds rows run with other settings: {what}. Use another --out, or the earlier settings to "
            "resume; mixing them would make the rows' budgets unequal."
        )


def _ablation(positionals: list[str]) -> int:
    if positionals:
        raise common.CliError(f"unexpected argument(s) {positionals}; every option is a --flag")
    from rsn_tf import config as config_lib
    from rsn_tf.evaluation.table3 import (
        TABLE_FILE,
        archive_table,
        check_claims,
        format_table,
        run_ablation,
        select_rows,
    )

    if FLAGS.summarise:
        return _summarise(FLAGS.summarise)
    config = common.config_from_flags(
        FLAGS,
        CONFIG_FLAGS,
        purpose="ablation",
        defaults={
            "trainer.model_dir": DEFAULT_OUT,
            "trainer.image_summaries": 0,
            "trainer.checkpoint_every_steps": 100,
            "trainer.export": False,
        },
    )
    rows = select_rows(FLAGS.rows)
    epochs = config.trainer.epochs
    if epochs < 1:
        raise common.CliError(f"--epochs={epochs}: every trained row needs at least one epoch")
    out = config.trainer.model_dir
    _check_budget(out, config)
    if FLAGS.archive and os.path.abspath(FLAGS.archive) == os.path.abspath(out):
        raise common.CliError(f"--archive={FLAGS.archive} is --out itself; give the archive a dir of its own")

    import keras
    import tensorflow_datasets as tfds

    from rsn_tf.models.presets import get_preset
    from rsn_tf.run_dir import RunDir
    from rsn_tf.schedule import StageSpec
    from rsn_tf.training.task import RSNTask
    from rsn_tf.training.trainer import Trainer

    config_lib.save_file(config, RunDir(out).config_path)

    def trainer_for(row):
        keras.utils.set_random_seed(config.trainer.seed)  # every row starts from the same initialisation
        row_config = config_lib.override(
            config, {"task.stage": row.name, "trainer.epochs": epochs if row.kind == "train" else 0}
        )
        return Trainer(row_config)

    def eval_batches():
        task = RSNTask(config, StageSpec(name="baseline2", summary="", loss="iterative"))
        batches = task.build_inputs("test", training=False)
        return batches.take(config.data.eval_batches) if config.data.eval_batches else batches

    start = time.perf_counter()
    print(
        f"Table 3 ablation: {len(rows)} row(s), {config.model.preset} preset, {config.data.dataset}, "
        f"{epochs} epoch(s) per trained row, output in {out}/",
        flush=True,
    )

    def test_examples():
        from rsn_tf.data import prepare_builder

        builder = prepare_builder(config.data.dataset, config.data.data_dir, config.data.manual_dir)
        return tfds.as_numpy(builder.as_dataset(split="test"))

    def archive() -> None:
        if FLAGS.archive:
            archive_table(out, FLAGS.archive)

    preset = get_preset(config.model.preset)  # the model's resolution, at which every row is scored
    results = run_ablation(
        trainer_for,
        rows,
        out,
        eval_batches,
        test_examples=test_examples,
        size=(preset.height, preset.width),
        dataset=config.data.dataset,
        after_row=archive,
    )
    archive()  # also when every row was done earlier
    print(f"\n{format_table(results)}\n")
    for claim in check_claims(results):
        verdict = {True: "HOLDS", False: "does NOT hold", None: "not tested"}[claim["holds"]]
        print(f"- {claim['claim']}: {verdict} ({claim['detail']})")
    print(f"\n{len(rows)} row(s) in {time.perf_counter() - start:.0f} s; table in {os.path.join(out, TABLE_FILE)}")
    return 0


def _summarise(dirs: list[str]) -> int:
    """Mean ± std over the seeds of finished runs, and each claim's verdict over them."""
    import json

    from rsn_tf import config as config_lib
    from rsn_tf.evaluation.table3 import SUMMARY_FILE, format_seed_table, summarise_seeds
    from rsn_tf.run_dir import RunDir

    per_seed, budgets = {}, {}
    for out in dirs:
        summary = os.path.join(out, SUMMARY_FILE)
        if not os.path.exists(summary):
            raise common.CliError(f"--summarise: {summary} does not exist; run rsn-ablation --out={out} first")
        config = config_lib.flatten(config_lib.load_file(RunDir(out).config_path))
        seed = int(config["trainer.seed"])
        if seed in per_seed:
            raise common.CliError(f"--summarise: {out} and another run both used seed {seed}")
        budgets[out] = {k: config.get(k) for k in BUDGET_KEYS if k != "trainer.seed"}
        with open(summary) as fh:
            per_seed[seed] = json.load(fh)["results"]
    first = dirs[0]
    differ = [out for out in dirs if budgets[out] != budgets[first]]
    if differ:
        raise common.CliError(
            f"--summarise: {', '.join(differ)} used another budget or dataset than {first}: "
            f"{budgets[differ[0]]} vs {budgets[first]}"
        )
    result = summarise_seeds(per_seed)
    text = format_seed_table(result)
    print(f"Table 3 over seeds {result['seeds']} (mean ± std):\n\n{text}\n")
    for claim in result["claims"]:
        print(f"- {claim['claim']}: {claim['verdict'].upper()} ({claim['detail']})")
    with open(os.path.join(first, "ablation_seeds.md"), "w") as fh:
        fh.write(
            text
            + "\n\n"
            + "\n".join(f"- {c['claim']}: **{c['verdict']}** ({c['detail']})" for c in result["claims"])
            + "\n"
        )
    with open(os.path.join(first, "ablation_seeds.json"), "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"\nwritten to {first}/ablation_seeds.md and .json")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return common.run(_ablation, FLAGS, __doc__, argv, program="rsn-ablation", errors=(ValueError, FileNotFoundError))


console = common.console_entry(main)

if __name__ == "__main__":
    console()
