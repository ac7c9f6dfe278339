"""Inference speed of the Region Support Network per preset and resolution.

For each (preset, HxW) it prints batch-1 latency, batch-N throughput, the model's
FLOPs per image (TF profiler, see rsn_tf/flops.py) and the achieved FLOP/s as a
fraction of this machine's dense float32 matmul peak, which is measured in the
same run (the baseline). With --variants it also times XLA (jit_compile) and
mixed precision against the plain float32 graph on the first preset.

    python bench/inference.py                                  # tiny, small, paper at their bench sizes
    python bench/inference.py --runs=tiny@96x128,paper@480x640 --batch=4 --variants
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from absl import flags

from rsn_tf.cli import common
from rsn_tf.flops import matmul_peak, model_flops
from rsn_tf.models import RegionSupportNetwork, get_preset

DEFAULT_RUNS = ("tiny@96x128", "small@240x320", "paper@240x320")


def time_call(fn, x, repeats: int) -> list[float]:
    fn(x).numpy()  # trace / compile and warm up
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x).numpy()
        out.append(time.perf_counter() - t0)
    return out


def build(preset: str, h: int, w: int, jit: bool = False):
    model = RegionSupportNetwork(get_preset(preset, height=h, width=w))
    model.build()
    fn = tf.function(lambda x: model(x, training=False)["depth"], jit_compile=jit)
    return model, fn


def bench_run(preset: str, h: int, w: int, batch: int, repeats: int, peak: float) -> dict:
    model, fn = build(preset, h, w)
    flops = model_flops(model, h, w)
    rng = np.random.default_rng(0)
    one = tf.constant(rng.uniform(0, 255, (1, h, w, 3)).astype(np.float32))
    many = tf.constant(rng.uniform(0, 255, (batch, h, w, 3)).astype(np.float32))
    latency = statistics.median(time_call(fn, one, repeats))
    throughput = batch / statistics.median(time_call(fn, many, max(2, repeats // 2)))
    achieved = flops * throughput
    return {
        "run": f"{preset}@{h}x{w}",
        "params_m": model.count_params() / 1e6,
        "gflops": flops / 1e9,
        "latency_ms": latency * 1e3,
        "images_s": throughput,
        "gflop_s": achieved / 1e9,
        "peak_frac": achieved / peak,
    }


def bench_variants(preset: str, h: int, w: int, batch: int, repeats: int) -> list[tuple[str, float]]:
    """Throughput of float32, XLA and mixed precision, in the same process."""
    x = tf.constant(np.random.default_rng(1).uniform(0, 255, (batch, h, w, 3)).astype(np.float32))
    results = []
    for name, jit, policy in (
        ("float32", False, "float32"),
        ("float32 + XLA", True, "float32"),
        ("mixed_bfloat16", False, "mixed_bfloat16"),
        ("mixed_float16", False, "mixed_float16"),
    ):
        keras.mixed_precision.set_global_policy(policy)
        try:
            _, fn = build(preset, h, w, jit=jit)
            seconds = statistics.median(time_call(fn, x, repeats))
            results.append((name, batch / seconds))
        except Exception as error:  # a variant the machine cannot run is reported, not fatal
            results.append((f"{name} (failed: {type(error).__name__})", float("nan")))
        finally:
            keras.mixed_precision.set_global_policy("float32")
    return results


FLAGS = common.new_flag_values()
flags.DEFINE_list("runs", list(DEFAULT_RUNS), "Preset@HxW entries.", flag_values=FLAGS)
flags.DEFINE_integer("batch", 4, "Batch size for throughput.", flag_values=FLAGS)
flags.DEFINE_integer("repeats", 5, "Repeats.", flag_values=FLAGS)
flags.DEFINE_boolean("variants", False, "Also time XLA and mixed precision.", flag_values=FLAGS)


def main(positionals: list[str]) -> int:

    devices = [d.device_type for d in tf.config.list_physical_devices()]
    print(f"TensorFlow {tf.__version__}, devices {devices}, {os.cpu_count()} CPU cores")
    peak = matmul_peak()
    print(f"baseline: dense float32 matmul peak {peak / 1e9:.1f} GFLOP/s (2048^3, best of 10)\n")
    header = f"{'run':<16} {'params':>8} {'GFLOPs':>9} {'latency':>11} {'images/s':>9} {'GFLOP/s':>9} {'of peak':>8}"
    print(header)
    print("-" * len(header))
    for run in FLAGS.runs:
        preset, size = run.split("@")
        h, w = (int(v) for v in size.split("x"))
        r = bench_run(preset, h, w, FLAGS.batch, FLAGS.repeats, peak)
        print(
            f"{r['run']:<16} {r['params_m']:>7.2f}M {r['gflops']:>9.2f} {r['latency_ms']:>9.1f}ms "
            f"{r['images_s']:>9.2f} {r['gflop_s']:>9.1f} {100 * r['peak_frac']:>7.1f}%"
        )
    if FLAGS.variants:
        preset, size = FLAGS.runs[0].split("@")
        h, w = (int(v) for v in size.split("x"))
        print(f"\nvariants on {FLAGS.runs[0]}, batch {FLAGS.batch} (images/s, ratio to float32):")
        results = bench_variants(preset, h, w, FLAGS.batch, FLAGS.repeats)
        base = results[0][1]
        for name, ips in results:
            print(f"  {name:<40} {ips:8.2f}   {ips / base:5.2f}x")

    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/inference.py"))
