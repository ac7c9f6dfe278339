"""Evaluation overhead: rsn_tf.evaluate's scoring (metrics + region statistics) against inference alone.

Both sides run the same depth source on the same batches, held in memory so that
reading and decoding the dataset is not timed. The baseline only predicts; the
measured side is ``evaluate_source``: predict, per-image metrics, Section 4.2 region
statistics. Runs alternate to share the machine's noise. The ratio is what scoring
adds on top of inference.

    python bench/evaluation.py [--preset=tiny] [--size=480x640] [--images=48] [--repeats=3]

Needs the demo dataset (nyu_region_support/synthetic, built by the README's first command).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from absl import flags

from rsn_tf.cli import common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from rsn_tf.config import DataConfig
from rsn_tf.data import load_builder, make_dataset
from rsn_tf.depth_sources import load_source
from rsn_tf.evaluation.evaluator import evaluate_source
from rsn_tf.models import RegionSupportNetwork, get_preset

FLAGS = common.new_flag_values()
flags.DEFINE_string("preset", "tiny", "Preset.", flag_values=FLAGS)
flags.DEFINE_string("size", "480x640", "HxW at which to score (the dataset's is 480x640).", flag_values=FLAGS)
flags.DEFINE_integer("images", 48, "Images.", flag_values=FLAGS)
flags.DEFINE_integer("batch", 8, "Batch.", flag_values=FLAGS)
flags.DEFINE_integer("repeats", 3, "Repeats.", flag_values=FLAGS)
flags.DEFINE_string("dataset", "nyu_region_support/synthetic", "Dataset.", flag_values=FLAGS)


def main(positionals: list[str]) -> int:
    h, w = (int(v) for v in FLAGS.size.split("x"))

    model = RegionSupportNetwork(get_preset(FLAGS.preset))
    model.build()
    path = os.path.join(tempfile.mkdtemp(), "bench.keras")
    model.save(path)
    source = load_source(path, "bench")
    config = DataConfig(batch_size=FLAGS.batch, cache="")
    dataset = make_dataset(load_builder(FLAGS.dataset), "test", config, training=False, size=(h, w))
    batches = [{k: v.numpy() for k, v in b.items()} for b in dataset.unbatch().take(FLAGS.images).batch(FLAGS.batch)]
    images = sum(len(b["key"]) for b in batches)

    def predict_only() -> None:
        for batch in batches:
            source.predict(batch)

    def scored() -> None:
        evaluate_source(source, batches, progress=False)

    predict_only(), scored()  # trace and warm up
    times: dict[str, list[float]] = {"predict": [], "evaluate": []}
    for _ in range(FLAGS.repeats):
        for name, fn in (("predict", predict_only), ("evaluate", scored)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    base, full = statistics.median(times["predict"]), statistics.median(times["evaluate"])
    print(f"preset {FLAGS.preset}, {images} test images scored at {h}x{w}, {FLAGS.repeats} alternating runs, median:")
    print(f"  inference only (baseline):                 {images / base:7.1f} images/s   1.00x time")
    print(f"  evaluate_source (+ metrics, region stats):  {images / full:7.1f} images/s   {full / base:.2f}x time")

    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/evaluation.py"))
