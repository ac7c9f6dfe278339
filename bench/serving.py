"""Serving latency: the loaded SavedModel's serving_default against the in-process Keras model.

Both run the same graph work on the same uint8 batch at the same preset and size:
resize to the model resolution, the network, resize back. The Keras side is the
baseline (a tf.function around the same DepthServer.predict the export wraps).
Runs alternate between the two to share the machine's noise. Target: ratio <= 1.10.

    python bench/serving.py [--preset=small] [--size=480x640] [--batch=1] [--repeats=20]
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf
from absl import flags

from rsn_tf.cli import common
from rsn_tf.models import RegionSupportNetwork, get_preset
from rsn_tf.serving.exporter import export_saved_model
from rsn_tf.serving.signatures import DepthServer

FLAGS = common.new_flag_values()
flags.DEFINE_string("preset", "small", "Preset.", flag_values=FLAGS)
flags.DEFINE_string("size", "480x640", "HxW of the served images.", flag_values=FLAGS)
flags.DEFINE_integer("batch", 1, "Batch.", flag_values=FLAGS)
flags.DEFINE_integer("repeats", 20, "Repeats.", flag_values=FLAGS)


def main(positionals: list[str]) -> int:
    h, w = (int(v) for v in FLAGS.size.split("x"))

    model = RegionSupportNetwork(get_preset(FLAGS.preset))
    model.build()
    keras_fn = tf.function(lambda x: DepthServer(model).predict(x)["depth"])
    with tempfile.TemporaryDirectory() as base:
        path = export_saved_model(model, base, "rsn")
        loaded = tf.saved_model.load(path)
        serving_fn = loaded.signatures["serving_default"]
        x = tf.constant(np.random.default_rng(0).integers(0, 256, (FLAGS.batch, h, w, 3), dtype=np.uint8))
        np.testing.assert_allclose(serving_fn(images=x)["depth"].numpy(), keras_fn(x).numpy(), atol=1e-4)
        times = {"keras": [], "saved_model": []}
        for _ in range(3):  # warm-up
            keras_fn(x).numpy()
            serving_fn(images=x)["depth"].numpy()
        for _ in range(FLAGS.repeats):
            t0 = time.perf_counter()
            keras_fn(x).numpy()
            times["keras"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            serving_fn(images=x)["depth"].numpy()
            times["saved_model"].append(time.perf_counter() - t0)
    k, s = statistics.median(times["keras"]), statistics.median(times["saved_model"])
    print(f"preset {FLAGS.preset}, {FLAGS.batch} image(s) of {h}x{w}, {FLAGS.repeats} alternating runs, median:")
    print(f"  in-process Keras model (baseline): {1e3 * k:8.1f} ms")
    print(f"  loaded SavedModel serving_default: {1e3 * s:8.1f} ms")
    print(f"  ratio SavedModel / Keras: {s / k:.3f}   (target <= 1.10)")

    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/serving.py"))
