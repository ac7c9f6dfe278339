"""Serving latency: the loaded SavedModel's serving_default against the in-process Keras model.

Both run the same graph work on the same uint8 batch at the same preset and size:
resize to the model resolution, the network, resize back. The Keras side is the
baseline (a tf.function around the same DepthServer.predict the export wraps).
Runs alternate between the two to share the machine's noise. Target: ratio <= 1.10.

    python bench/serving.py [--preset small] [--size 480x640] [--batch 1] [--repeats 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from rsn_tf.models import RegionSupportNetwork, get_preset  # noqa: E402
from rsn_tf.serving.exporter import export_saved_model  # noqa: E402
from rsn_tf.serving.signatures import DepthServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--size", default="480x640", help="HxW of the served images")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    h, w = (int(v) for v in args.size.split("x"))

    model = RegionSupportNetwork(get_preset(args.preset))
    model.build()
    keras_fn = tf.function(lambda x: DepthServer(model).predict(x)["depth"])
    with tempfile.TemporaryDirectory() as base:
        path = export_saved_model(model, base, "rsn")
        loaded = tf.saved_model.load(path)
        serving_fn = loaded.signatures["serving_default"]
        x = tf.constant(np.random.default_rng(0).integers(0, 256, (args.batch, h, w, 3), dtype=np.uint8))
        np.testing.assert_allclose(serving_fn(images=x)["depth"].numpy(), keras_fn(x).numpy(), atol=1e-4)
        times = {"keras": [], "saved_model": []}
        for _ in range(3):  # warm-up
            keras_fn(x).numpy()
            serving_fn(images=x)["depth"].numpy()
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            keras_fn(x).numpy()
            times["keras"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            serving_fn(images=x)["depth"].numpy()
            times["saved_model"].append(time.perf_counter() - t0)
    k, s = statistics.median(times["keras"]), statistics.median(times["saved_model"])
    print(f"preset {args.preset}, {args.batch} image(s) of {h}x{w}, {args.repeats} alternating runs, median:")
    print(f"  in-process Keras model (baseline): {1e3 * k:8.1f} ms")
    print(f"  loaded SavedModel serving_default: {1e3 * s:8.1f} ms")
    print(f"  ratio SavedModel / Keras: {s / k:.3f}   (target <= 1.10)")


if __name__ == "__main__":
    main()
