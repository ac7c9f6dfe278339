"""Evaluate a trained model (or stored predictions) on a dataset split, the paper's way.

    python -m rsn_tf.evaluate --model=runs/rsn                       # a train.py --model_dir
    python -m rsn_tf.evaluate --model=export/rsn --split=test --eigen_crop
    python -m rsn_tf.evaluate --model=runs/ablation/end_to_end --figures=4
    python -m rsn_tf.evaluate --model=my_method_npys/ --height=480 --width=640

``--model`` takes a SavedModel (or an export base: the newest version), a train.py
--model_dir (the most finished stage, or --stage), one stage dir, a .keras file, or a
directory of ``<key>.npy`` predictions in metres from any method.

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
module and the semantic-guidance refinement of the same train.py or ablation run.

Evaluation runs at ``--height`` x ``--width``: by default the model's own resolution
(Keras models), or the dataset's (SavedModels and stored predictions). Valid pixels are
those with ground truth in (``--min_depth``, ``--max_depth``), optionally inside the Eigen
crop; predictions are clamped to the same range.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Figure 3's columns, each with the stage dirs (train.py names, then ablation names) that provide it.
FIGURE_COLUMNS = (
    ("Refinement (GT region support)", ("refinement", "refinement_gt")),
    ("Generation module", ("generation_depth", "generation", "baseline1")),
    ("Semantic guidance", ("refinement_semantic",)),
)


def _parse_compare(values: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        label, sep, path = value.partition("=")
        if not sep or not label or not path:
            raise ValueError(f"--compare={value!r}: expected LABEL=PATH, e.g. --compare='Generation module=runs/rsn/generation'")
        out.append((label, path))
    return out


def _discover_compare(model_path: str, exclude: str) -> list[tuple[str, str]]:
    """Figure 3's other columns, from the run the model belongs to (its dir or its parent)."""
    from rsn_tf.training.stage_dir import find_stage_dirs

    run = find_stage_dirs(model_path) or find_stage_dirs(os.path.dirname(os.path.normpath(model_path)))
    found = []
    for label, names in FIGURE_COLUMNS:
        for name in names:
            if name in run and os.path.normpath(run[name]) != os.path.normpath(exclude):
                found.append((label, run[name]))
                break
    return found


def _default_out(model: str, split: str) -> str:
    """``<model>/eval_<split>`` (``<file>_eval`` beside a .keras file); ``test[:10]`` becomes ``test_-10``."""
    if model.endswith(".keras"):
        return os.path.splitext(model)[0] + "_eval"
    return os.path.join(model.rstrip("/"), f"eval_{split.replace('[', '_').replace(':', '-').rstrip(']')}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="SavedModel, export base, train.py dir, stage dir, .keras, or .npy dir")
    parser.add_argument("--stage", default=None, help="which stage of a train.py --model_dir (default: the most finished)")
    parser.add_argument("--name", default=None, help="the model's name in tables and figures (default: from the path)")
    parser.add_argument("--dataset", default="nyu_region_support/synthetic", help="TFDS name/config")
    parser.add_argument("--data_dir", default=None, help="TFDS data dir")
    parser.add_argument("--split", default="test", help="TFDS split, e.g. test, train[:100]")
    parser.add_argument("--out", default=None, help="output dir (default: <model>/eval_<split>)")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--height", type=int, default=None, help="evaluation height (default: see above)")
    parser.add_argument("--width", type=int, default=None, help="evaluation width")
    parser.add_argument("--max_images", type=int, default=None, help="evaluate only the first N images")
    parser.add_argument("--eigen_crop", action="store_true", help="score only inside the Eigen crop")
    parser.add_argument("--min_depth", type=float, default=1e-3, help="valid ground truth lies above this (m)")
    parser.add_argument("--max_depth", type=float, default=10.0, help="valid ground truth lies below this (m)")
    parser.add_argument("--figures", type=int, default=0, help="write figure3.png and region_support.png for N images")
    parser.add_argument("--figure_width", type=int, default=224, help="width of one figure panel in pixels")
    parser.add_argument("--compare", action="append", default=[], help="LABEL=PATH: another model for figure3.png")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    try:
        if args.min_depth < 0 or args.max_depth <= args.min_depth:
            raise ValueError(f"--min_depth={args.min_depth} / --max_depth={args.max_depth}: need 0 <= min < max")
        if (args.height is None) != (args.width is None):
            raise ValueError("--height and --width go together")
        if args.figures < 0 or args.batch_size < 1 or args.figure_width < 32:
            raise ValueError("--figures must be >= 0, --batch_size >= 1 and --figure_width >= 32")
        compare = _parse_compare(args.compare)
        return _run(args, compare)
    except (ValueError, FileNotFoundError) as error:
        print(f"evaluate: {error}", file=sys.stderr)
        return 2


def _run(args, compare: list[tuple[str, str]]) -> int:
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.WARNING)
    from rsn_tf.data import DataConfig, load_builder, make_dataset
    from rsn_tf.evaluation.evaluator import evaluate_source
    from rsn_tf.evaluation.figures import comparison_grid, region_support_figure, save_png
    from rsn_tf.evaluation.reports import write_reports
    from rsn_tf.evaluation.sources import load_source
    from rsn_tf.metrics import MetricConfig

    source = load_source(args.model, args.name, args.stage)
    builder = load_builder(args.dataset, args.data_dir)
    if args.height:
        size = (args.height, args.width)
    elif source.model_size:
        size = source.model_size
    else:
        size = tuple(builder.info.features["depth"].shape[:2])
    config = DataConfig(height=size[0], width=size[1], batch_size=args.batch_size, cache="")
    batches = make_dataset(builder, args.split, config, training=False)
    total = builder.info.splits[args.split].num_examples
    if args.max_images:
        batches = batches.unbatch().take(args.max_images).batch(args.batch_size)
        total = min(total, args.max_images)
    if args.figures and not compare:
        compare = _discover_compare(args.model, source.path)
        missing = [label for label, _ in FIGURE_COLUMNS if label not in dict(compare)]
        if missing:
            print(f"figure3.png: no {', '.join(missing)} found beside {args.model} (train.py --stage=all or "
                  "the ablation makes them); add columns with --compare=LABEL=PATH", file=sys.stderr)
    others = [load_source(path, label) for label, path in compare] if args.figures else []
    metric_config = MetricConfig(min_depth=args.min_depth, max_depth=args.max_depth, eigen_crop=args.eigen_crop)
    result = evaluate_source(source, batches, metric_config, keep=args.figures, compare=others, total=total,
                             progress=not args.no_progress)

    out = args.out or _default_out(args.model, args.split)
    settings = {"dataset": args.dataset, "split": args.split, "height": size[0], "width": size[1],
                "eigen_crop": args.eigen_crop, "min_depth": args.min_depth, "max_depth": args.max_depth}
    paths = write_reports(out, source.name, result, settings)
    if args.figures:
        ex = result.examples
        columns = {"RSN" if source.name in ("joint", "end_to_end") else source.name: ex[source.name]}
        columns.update({o.name: ex[o.name] for o in others})
        paths["figure3"] = os.path.join(out, "figure3.png")
        save_png(paths["figure3"], comparison_grid(ex["rgb"], ex["depth"], columns, args.figure_width))
        paths["region_support"] = os.path.join(out, "region_support.png")
        predicted = ex["predicted_region_support"] or None
        save_png(paths["region_support"],
                 region_support_figure(ex["rgb"], ex["regions"], ex["region_support"], predicted,
                                       args.figure_width))
    with open(paths["markdown"]) as fh:
        print("\n" + fh.read())
    print("Wrote " + ", ".join(paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
