"""Input pipeline throughput at 240x320: training (augmented) and evaluation batches per second.

The baseline, measured in the same run, is reading and decoding the TFDS examples alone
(no resizing, no augmentation, no cache). Builds the `synthetic` config into --data_dir
first if it is missing.

    python bench/input_pipeline.py [--data_dir=DIR] [--batches=60]
"""

from __future__ import annotations

import os
import tempfile
import time

from absl import flags

from rsn_tf.cli import common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


from rsn_tf.config import DataConfig
from rsn_tf.data import make_dataset
from tfds_nyu.nyu_region_support import Builder


def frames_per_second(ds, batches: int, batch_size: int) -> float:
    it = iter(ds)
    next(it)  # start-up
    t0 = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch_size / (time.perf_counter() - t0)


FLAGS = common.new_flag_values()
flags.DEFINE_string(
    "data_dir", None, "Data dir. Default: a new temporary dir, never one shared with another run.", flag_values=FLAGS
)
flags.DEFINE_integer("batches", 60, "Batches.", flag_values=FLAGS)
flags.DEFINE_integer("batch_size", 16, "Batch size.", flag_values=FLAGS)


def main(positionals: list[str]) -> int:
    if FLAGS.data_dir is None:  # a fixed /tmp name would be shared by two runs (and removed by the other)
        FLAGS.data_dir = tempfile.mkdtemp(prefix="rsn_tfds_")
    builder = Builder(config="synthetic", data_dir=FLAGS.data_dir)
    if not builder.is_prepared():
        print("building nyu_region_support/synthetic ...")
        builder.download_and_prepare()
    n_train = builder.info.splits["train"].num_examples
    print(f"dataset: nyu_region_support/synthetic, {n_train} training frames at 480x640, {os.cpu_count()} cores")

    raw = builder.as_dataset(split="train").repeat().batch(FLAGS.batch_size).prefetch(-1)
    base = frames_per_second(raw, FLAGS.batches, FLAGS.batch_size)
    print(f"{'baseline: TFDS read + decode only (480x640)':<44} {base:8.1f} frames/s")

    rows = []
    for cache in ("", "memory"):
        config = DataConfig(batch_size=FLAGS.batch_size, cache=cache)
        for name, training in (("train (augmented)", True), ("eval", False)):
            ds = make_dataset(builder, "train", config, training=training, size=(240, 320), seed=0, repeat=True)
            if cache:  # fill the cache with one pass first, then measure the steady state
                frames_per_second(ds, n_train // FLAGS.batch_size + 1, FLAGS.batch_size)
            fps = frames_per_second(ds, FLAGS.batches, FLAGS.batch_size)
            label = f"{name}, {'cached' if cache else 'no cache (decode every epoch)'}"
            rows.append((label, fps))
            print(f"{label:<44} {fps:8.1f} frames/s  ({fps / base:.2f}x baseline)")
    print("target: >= 200 frames/s for train and eval")

    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/input_pipeline.py"))
