"""Evaluation overhead: rsn_tf.evaluate's scoring (metrics + region statistics) against inference alone.

Both sides run the same depth source on the same batches, held in memory so that
reading and decoding the dataset is not timed. The baseline only predicts; the
measured side is ``evaluate_source``: predict, per-image metrics, Section 4.2 region
statistics. Runs alternate to share the machine's noise. The ratio is what scoring
adds on top of inference.

    python bench/evaluation.py [--preset tiny] [--size 480x640] [--images 48] [--repeats 3]

Needs the demo dataset (nyu_region_support/synthetic, built by the README's first command).
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

from rsn_tf.data import DataConfig, load_builder, make_dataset  # noqa: E402
from rsn_tf.evaluation.evaluator import evaluate_source  # noqa: E402
from rsn_tf.evaluation.sources import load_source  # noqa: E402
from rsn_tf.models import RegionSupportNetwork, get_preset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--size", default="480x640", help="HxW at which to score (the dataset's is 480x640)")
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dataset", default="nyu_region_support/synthetic")
    args = parser.parse_args()
    h, w = (int(v) for v in args.size.split("x"))

    model = RegionSupportNetwork(get_preset(args.preset))
    model.build()
    path = os.path.join(tempfile.mkdtemp(), "bench.keras")
    model.save(path)
    source = load_source(path, "bench")
    config = DataConfig(height=h, width=w, batch_size=args.batch, cache="")
    dataset = make_dataset(load_builder(args.dataset), "test", config, training=False)
    batches = [{k: v.numpy() for k, v in b.items()} for b in dataset.unbatch().take(args.images).batch(args.batch)]
    images = sum(len(b["key"]) for b in batches)

    def predict_only() -> None:
        for batch in batches:
            source.predict(batch)

    def scored() -> None:
        evaluate_source(source, batches, progress=False)

    predict_only(), scored()  # trace and warm up
    times: dict[str, list[float]] = {"predict": [], "evaluate": []}
    for _ in range(args.repeats):
        for name, fn in (("predict", predict_only), ("evaluate", scored)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    base, full = statistics.median(times["predict"]), statistics.median(times["evaluate"])
    print(f"preset {args.preset}, {images} test images scored at {h}x{w}, {args.repeats} alternating runs, median:")
    print(f"  inference only (baseline):                 {images / base:7.1f} images/s   1.00x time")
    print(f"  evaluate_source (+ metrics, region stats):  {images / full:7.1f} images/s   {full / base:.2f}x time")


if __name__ == "__main__":
    main()
