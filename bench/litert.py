"""LiteRT variants (and ONNX) against the SavedModel they were exported beside: agreement, accuracy, latency.

The README demo's model (``--model``, a rsn-train run dir) is exported to a temporary dir as a
SavedModel and as LiteRT float32, float16 and dynamic-range int8 at the network's own
resolution (rsn_tf/serving/litert.py), and as ONNX (rsn_tf/serving/onnx_export.py, run in ONNX
Runtime with the same thread count). On the synthetic test split at that resolution:

* max |d_litert - d_savedmodel| and the δ1 agreement (fraction of pixels within a factor
  1.25 of the SavedModel's depth);
* abs_rel and δ1 of each against the ground truth (per image, valid 1e-3 < gt < 10 m);
* latency per image, batch 1: the SavedModel's ``serving_default`` (the same-run baseline) and
  LiteRT's interpreter (``ai_edge_litert``, ``--threads`` threads), interleaved, median.

    python bench/litert.py [--model=runs/rsn] [--threads=2] [--latency_images=30]
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import numpy as np
from absl import flags

from rsn_tf.cli import common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FLAGS = common.new_flag_values()
flags.DEFINE_string("model", "runs/rsn", "A rsn-train --model_dir.", flag_values=FLAGS)
flags.DEFINE_integer("threads", 2, "LiteRT interpreter threads.", flag_values=FLAGS)
flags.DEFINE_integer("latency_images", 30, "Images timed per model (after one warm-up).", flag_values=FLAGS)


def main(positionals: list[str]) -> int:
    import demo_split
    import tensorflow as tf

    from rsn_tf.metrics import compute_depth_metrics
    from rsn_tf.model_loading import LiteRTModel
    from rsn_tf.serving.exporter import export_saved_model
    from rsn_tf.serving.litert import LITERT_VARIANTS, export_litert
    from rsn_tf.serving.onnx_export import OnnxModel, export_onnx

    model, stage, rgb, gt, keys = demo_split.load(FLAGS.model)
    work = tempfile.mkdtemp(prefix="rsn_litert_bench_")
    saved = tf.saved_model.load(export_saved_model(model, work, "rsn"))
    serve = saved.signatures["serving_default"]
    paths = export_litert(model, work, "rsn", 1)
    images = rgb.round().clip(0, 255).astype(np.uint8)
    reference = np.concatenate(
        [serve(images=tf.constant(images[i : i + 8]))["depth"].numpy() for i in range(0, len(images), 8)]
    )
    runners = {"SavedModel (baseline)": lambda x: serve(images=tf.constant(x[None]))["depth"].numpy()[0]}
    for variant in LITERT_VARIANTS:
        runners[f"LiteRT {variant}"] = LiteRTModel(paths[variant], FLAGS.threads).predict
    paths["onnx"] = export_onnx(model, work, "rsn", 1)
    runners["ONNX (ONNX Runtime) onnx"] = OnnxModel(paths["onnx"], FLAGS.threads).predict
    rows = {}
    for name, run in runners.items():
        depth = reference if name.startswith("SavedModel") else np.stack([run(x) for x in images])
        ratio = np.maximum(depth / reference, reference / depth)
        metrics = compute_depth_metrics(depth, gt)
        size = None if name.startswith("SavedModel") else os.path.getsize(paths[name.split()[-1]])
        rows[name] = {
            "max_abs": float(np.abs(depth - reference).max()),
            "agree": float(np.mean(ratio < 1.25)),
            "abs_rel": metrics["abs_rel"],
            "delta1": metrics["delta1"],
            "bytes": size,
            "times": [],
        }
    timed = images[: FLAGS.latency_images]
    for run in runners.values():
        run(timed[0])  # warm-up
    for x in timed:
        for name, run in runners.items():
            start = time.perf_counter()
            run(x)
            rows[name]["times"].append(time.perf_counter() - start)
    base = statistics.median(rows["SavedModel (baseline)"]["times"])
    h, w = images.shape[1:3]
    print(
        f"{len(images)} synthetic test images at {h}x{w} (the network's size), model {FLAGS.model} ({stage}); "
        f"latency: batch 1, median of {len(timed)}, LiteRT {FLAGS.threads} threads, {os.cpu_count()} CPUs"
    )
    print(
        "| model | file size | max abs diff vs SavedModel (m) | δ1 agreement | abs_rel | δ1 | latency (ms) "
        "| vs SavedModel |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        t = statistics.median(r["times"])
        name = name.replace(" onnx", "")
        size = f"{r['bytes'] / 1e6:.2f} MB" if r["bytes"] else "-"
        print(
            f"| {name} | {size} | {r['max_abs']:.2e} | {r['agree']:.4f} | {r['abs_rel']:.4f} | {r['delta1']:.4f} | "
            f"{t * 1e3:.2f} | {t / base:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/litert.py"))
