"""rsn-evaluate: a trained model (or stored predictions) on a dataset split, the paper's way.

    rsn-evaluate --model=runs/rsn                       # a rsn-train --model_dir
    rsn-evaluate --model=export/rsn --split=test --crop=eigen
    rsn-evaluate --model=my_relative_model_npys/ --alignment=median --against=runs/rsn/eval_test/metrics.json
    rsn-evaluate --model=runs/ablation/end_to_end --figures=4
    rsn-evaluate --model=my_method_npys/ --height=480 --width=640
    rsn-evaluate --model=runs/rsn --dataset=rgbd_folder/slic --manual_dir=MY_RGBD --split=train+test
    rsn-evaluate --model=constant:2.5 --dataset=rgbd_folder/slic --split=train+test   # a baseline

``--model`` takes a SavedModel (or an export base: the newest version), a rsn-train
--model_dir (the most finished stage, or --stage), one stage dir, a .keras file, or a
directory of ``<key>.npy`` predictions in metres from any method, or ``constant:<metres>``.

It writes to ``--out`` (default ``<model>/eval_<split>``):

* ``metrics.json``: every metric (per-image average), the settings and the region statistics;
* ``metrics.md``: a Markdown table in the paper's columns (rel, RMSE-log in ln and log10,
  RMSE-lin, δ<1.25, δ<1.25², δ<1.25³) and the Section 4.2 region statistics;
* ``per_image.csv``: every metric for every image, by example key;
* with ``--figures=N``: ``figure3.png`` (RGB, ground truth, this model and the
  comparison models for N test images, one shared colour map and a colour bar) and
  ``region_support.png`` (Algorithm 1's region boundaries over the image, coloured by
  mean depth, beside the predicted region support).

Comparison columns come from ``--compare=LABEL=PATH`` (repeatable); without it they are
found beside the model: the refinement with ground-truth region support, the generation
module and the semantic-guidance refinement of the same rsn-train or ablation run (each
stage's manifest says which Figure 3 column it provides).

Evaluation runs at ``--height`` x ``--width``: by default the model's own resolution
(Keras models), or the dataset's (SavedModels and stored predictions). Valid pixels are
those with ground truth in (``--min_depth``, ``--max_depth``), optionally inside the Eigen
crop; predictions are clamped to the same range.

Every report opens with its protocol in one line (dataset and split, frame count and
the split's sha256 fingerprint, size, crop, depth range, alignment, aggregation), and
metrics.json keeps it; ``--against`` compares with another report only when every part of
the protocol matches. The headline metrics are the mean of per-image metrics (the paper's
and the field's convention); whole-set pixel-pooled metrics are given beside them.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import Any

from rsn_tf.cli import common
from rsn_tf.metrics import ALIGNMENTS, CROPS, MetricConfig


def _option(default: Any, help: str) -> Any:  # noqa: A002 - the flag's help text
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class EvaluateOptions:
    """rsn-evaluate's own options; the dataset's are the data config's, the protocol's MetricConfig's."""

    model: str | None = _option(None, "SavedModel, export base, rsn-train dir, stage dir, .keras, or .npy dir.")
    stage: str | None = _option(None, "Which stage of a rsn-train --model_dir (default: the most finished).")
    name: str | None = _option(None, "The model's name in tables and figures (default: from the path).")
    split: str = _option("test", "TFDS split, e.g. test, train[:100].")
    out: str | None = _option(None, "Output dir (default: <model>/eval_<split>).")
    height: int | None = _option(None, "Evaluation height (default: see above).")
    width: int | None = _option(None, "Evaluation width.")
    max_images: int | None = _option(None, "Evaluate only the first N images.")
    eigen_crop: bool = _option(False, "The same as --crop=eigen.")
    against: str | None = _option(
        None, "Another metrics.json: print both and the difference (refused if the protocols differ)."
    )
    figures: int = _option(0, "Write figure3.png and region_support.png for N images.")
    figure_width: int = _option(224, "Width of one figure panel in pixels.")
    compare: tuple[str, ...] = _option((), "LABEL=PATH: another model for figure3.png (repeatable).")
    no_progress: bool = _option(False, "No progress bar.")


# Help for the flags of rsn_tf.metrics.MetricConfig's fields (the protocol; its defaults are its own).
METRIC_HELP = {
    "min_depth": "Valid ground truth lies above this (m).",
    "max_depth": "Valid ground truth lies below this (m).",
    "crop": "Score only inside this crop (eigen: NYU).",
    "alignment": "Per-image alignment before scoring, for relative-depth models (the paper uses none).",
}
DATA_KEYS = ("data.dataset", "data.data_dir", "data.manual_dir", "data.batch_size")

FLAGS = common.new_flag_values()
common.define_dataclass_flags(FLAGS, EvaluateOptions, "rsn-evaluate options")
DATA_FLAGS = common.define_config_flags(FLAGS, only=DATA_KEYS, config_flag=False)
METRIC_FLAGS = common.define_dataclass_flags(
    FLAGS,
    MetricConfig,
    "evaluation protocol (rsn_tf.metrics.MetricConfig)",
    helps=METRIC_HELP,
    choices={"crop": CROPS, "alignment": ALIGNMENTS},
)


def _parse_compare(values: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        label, sep, path = value.partition("=")
        if not sep or not label or not path:
            raise common.CliError(
                f"--compare={value!r}: expected LABEL=PATH, e.g. --compare='Generation module=runs/rsn/generation'"
            )
        out.append((label, path))
    return out


def _discover_compare(model_path: str, exclude: str) -> list[tuple[str, str]]:
    """Figure 3's other columns, from the run the model belongs to (its dir or its parent)."""
    from rsn_tf.run_dir import RunDir
    from rsn_tf.schedule import FIGURE_COLUMNS

    run = RunDir(model_path)
    if not run.complete_stages():
        run = RunDir(os.path.dirname(os.path.normpath(model_path)))
    columns = run.figure_columns()
    return [
        (label, columns[label].path)
        for label in FIGURE_COLUMNS
        if label in columns and os.path.normpath(columns[label].path) != os.path.normpath(exclude)
    ]


def _default_out(model: str, split: str) -> str:
    """``<model>/eval_<split>`` (``<file>_eval`` beside a .keras file); ``test[:10]`` becomes ``test_-10``."""
    tag = split.replace("[", "_").replace(":", "-").replace("+", "_").rstrip("]")
    if model.endswith(".keras"):
        return os.path.splitext(model)[0] + "_eval"
    if model.startswith("constant:"):
        return f"eval_constant_{model.split(':', 1)[1]}_{tag}"
    return os.path.join(model.rstrip("/"), f"eval_{tag}")


def _check_flags() -> list[tuple[str, str]]:
    if not FLAGS.model:
        raise common.CliError("--model is required: a SavedModel, export base, run dir, stage dir, .keras or .npy dir")
    if FLAGS.eigen_crop and FLAGS.crop not in ("none", "eigen"):
        raise common.CliError(f"--eigen_crop and --crop={FLAGS.crop} contradict each other; give one")
    if FLAGS.against and not os.path.isfile(FLAGS.against):
        raise common.CliError(f"--against={FLAGS.against}: no such metrics.json")
    if FLAGS.min_depth < 0 or FLAGS.max_depth <= FLAGS.min_depth:
        raise common.CliError(f"--min_depth={FLAGS.min_depth} / --max_depth={FLAGS.max_depth}: need 0 <= min < max")
    if (FLAGS.height is None) != (FLAGS.width is None):
        raise common.CliError("--height and --width go together")
    if FLAGS.figures < 0 or FLAGS.batch_size < 1 or FLAGS.figure_width < 32:
        raise common.CliError("--figures must be >= 0, --batch_size >= 1 and --figure_width >= 32")
    return _parse_compare(FLAGS.compare)


def _evaluate(positionals: list[str]) -> int:
    if positionals:
        raise common.CliError(f"unexpected argument(s) {positionals}; give the model with --model=PATH")
    compare = _check_flags()
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.WARNING)
    from rsn_tf.config import DataConfig
    from rsn_tf.data import make_dataset, prepare_builder
    from rsn_tf.depth_sources import load_source
    from rsn_tf.evaluation.evaluator import evaluate_source
    from rsn_tf.evaluation.figures import comparison_grid, region_support_figure, save_png
    from rsn_tf.evaluation.reports import evaluation_settings, write_reports
    from rsn_tf.schedule import FIGURE_COLUMNS

    data = common.dataclass_from_flags(
        DataConfig, FLAGS, [key.split(".", 1)[1] for key in DATA_FLAGS.values()], cache=""
    )
    source = load_source(FLAGS.model, FLAGS.name, FLAGS.stage)
    builder = prepare_builder(data.dataset, data.data_dir, data.manual_dir)
    if FLAGS.height:
        size = (FLAGS.height, FLAGS.width)
    elif source.model_size:
        size = source.model_size
    else:
        size = tuple(builder.info.features["depth"].shape[:2])
    batches = make_dataset(builder, FLAGS.split, data, training=False, size=size)
    total = builder.info.splits[FLAGS.split].num_examples
    if FLAGS.max_images:
        batches = batches.unbatch().take(FLAGS.max_images).batch(FLAGS.batch_size)
        total = min(total, FLAGS.max_images)
    if FLAGS.figures and not compare:
        compare = _discover_compare(FLAGS.model, source.path)
        missing = [label for label in FIGURE_COLUMNS if label not in dict(compare)]
        if missing:
            print(
                f"figure3.png: no {', '.join(missing)} found beside {FLAGS.model} (rsn-train --stage=all or "
                "the ablation makes them); add columns with --compare=LABEL=PATH",
                file=sys.stderr,
            )
    others = [load_source(path, label) for label, path in compare] if FLAGS.figures else []
    crop = {"crop": "eigen"} if FLAGS.eigen_crop else {}
    metric_config = common.dataclass_from_flags(MetricConfig, FLAGS, METRIC_FLAGS, **crop)
    result = evaluate_source(
        source,
        batches,
        metric_config,
        keep=FLAGS.figures,
        compare=others,
        total=total,
        progress=not FLAGS.no_progress,
    )

    out = FLAGS.out or _default_out(FLAGS.model, FLAGS.split)
    settings = evaluation_settings(data.dataset, FLAGS.split, size, metric_config)
    paths = write_reports(out, source.name, result, settings)["paths"]
    if FLAGS.figures:
        ex = result.examples
        label = (source.manifest or {}).get("figure_column") or source.name
        columns = {label: ex[source.name]}
        columns.update({o.name: ex[o.name] for o in others})
        paths["figure3"] = os.path.join(out, "figure3.png")
        save_png(paths["figure3"], comparison_grid(ex["rgb"], ex["depth"], columns, FLAGS.figure_width))
        paths["region_support"] = os.path.join(out, "region_support.png")
        predicted = ex["predicted_region_support"] or None
        save_png(
            paths["region_support"],
            region_support_figure(ex["rgb"], ex["regions"], ex["region_support"], predicted, FLAGS.figure_width),
        )
    with open(paths["markdown"]) as fh:
        print("\n" + fh.read())
    print("Wrote " + ", ".join(paths.values()))
    if FLAGS.against:
        from rsn_tf.evaluation.reports import compare_reports

        print("\n" + compare_reports(FLAGS.against, paths["json"]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # SourceError and bad values are ValueErrors naming the flag or path; a dataset that is not
    # built is a FileNotFoundError with the command that builds it.
    return common.run(_evaluate, FLAGS, __doc__, argv, program="rsn-evaluate", errors=(ValueError, FileNotFoundError))


console = common.console_entry(main)

if __name__ == "__main__":
    console()
