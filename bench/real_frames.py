"""The demo model on real RGB-D frames, against a constant-depth baseline (the training set's median depth).

A sanity check, not an accuracy figure: the demo model has seen only synthetic rooms, and
seven frames are far too few to rank methods. It proves the real-data path
(``rgbd_folder`` -> ``rsn-evaluate``) and keeps the numbers honest.

Protocol: the frames of ``../shared/data/real_rgbd`` built as ``rgbd_folder`` (default config) at
480x640 (every split), evaluated at the model's resolution; valid ground truth
1e-3 < gt < 10 m, no Eigen crop (TUM and SUN frames have no NYU border), predictions clamped
to the same range, metrics per image then averaged. The baseline predicts one depth
everywhere: the median of every valid ground-truth pixel of the model's training split.

    python bench/real_frames.py [--model=runs/rsn] [--folder=../shared/data/real_rgbd]
"""

from __future__ import annotations

import csv
import os
import tempfile

import numpy as np
from absl import flags

from rsn_tf.cli import common
from tfds_nyu.label_free import DEFAULT_LABEL_FREE_MODE

FLAGS = common.new_flag_values()
flags.DEFINE_string("model", "runs/rsn", "A rsn-train --model_dir (the README's demo).", flag_values=FLAGS)
flags.DEFINE_string(
    "folder",
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "real_rgbd"),
    "RGB-D folder.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "workdir",
    None,
    "Where the folder dataset and reports go. Default: a new temporary dir, never one shared with another run.",
    flag_values=FLAGS,
)

COLUMNS = ("abs_rel", "rmse", "log10", "delta1", "delta2", "delta3")


def training_median(stage_dir: str) -> tuple[float, str]:
    """Median valid depth over the training split of the dataset the stage was trained on."""
    import tensorflow_datasets as tfds

    from rsn_tf import config as config_lib
    from rsn_tf.data import prepare_builder

    config = config_lib.load_file(os.path.join(stage_dir, "config.yaml"))
    dataset = config["data"]["dataset"]
    builder = prepare_builder(dataset, config["data"].get("data_dir"))  # synthetic: built if missing
    values = [ex["depth"][ex["depth"] > 0] for ex in tfds.as_numpy(builder.as_dataset(split="train"))]
    return float(np.median(np.concatenate(values))), dataset


def main(positionals: list[str]) -> int:
    if FLAGS.workdir is None:  # a fixed /tmp name would be shared by two runs (and removed by the other)
        FLAGS.workdir = tempfile.mkdtemp(prefix="rsn_real_frames_")
    from rsn_tf.cli import evaluate
    from rsn_tf.depth_sources import load_source
    from rsn_tf.metrics_report import MetricsReport
    from rsn_tf.run_dir import METRICS_FILE

    folder = os.path.abspath(FLAGS.folder)
    data_dir = os.path.join(FLAGS.workdir, "tfds")
    source = load_source(FLAGS.model)
    median, trained_on = training_median(source.path)
    size = source.model_size
    rows = {}
    for label, model in (("demo model", FLAGS.model), (f"constant {median:.2f} m", f"constant:{median:.4f}")):
        out = os.path.join(FLAGS.workdir, label.split()[0])
        argv = [
            f"--model={model}",
            f"--dataset=rgbd_folder/{DEFAULT_LABEL_FREE_MODE}",
            f"--data_dir={data_dir}",
            f"--manual_dir={folder}",
            "--split=train+test",
            f"--height={size[0]}",
            f"--width={size[1]}",
            f"--out={out}",
            "--no_progress",
        ]
        if evaluate.main(argv):
            return 1
        metrics = MetricsReport.read(os.path.join(out, METRICS_FILE)).metrics
        per_image = {r["key"]: r for r in csv.DictReader(open(os.path.join(out, "per_image.csv")))}
        rows[label] = (metrics, per_image)

    print(f"\nfolder {folder}: 7 real frames; model {FLAGS.model} trained on {trained_on}; evaluated at {size}")
    print("| source | " + " | ".join(COLUMNS) + " |")
    print("| --- " * (len(COLUMNS) + 1) + "|")
    for label, (metrics, _) in rows.items():
        print(f"| {label} | " + " | ".join(f"{metrics[c]:.3f}" for c in COLUMNS) + " |")
    print("\nper frame, abs_rel (demo / constant):")
    (_, demo), (_, const) = rows.values()
    for key in sorted(demo):
        print(f"  {key:<18} {float(demo[key]['abs_rel']):.3f} / {float(const[key]['abs_rel']):.3f}")
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/real_frames.py"))
