"""Training-step throughput: a baseline commit against this tree, in the same run, alternating.

Each measurement runs in its own process on the same random batches at the preset's
resolution (the input pipeline is not measured, only the step): the joint stage's train
step (forward and backward, the optimizer update included) and its forward pass alone
(training mode). The baseline is the tree of ``--baseline`` (a commit) exported with
``git archive``; the two trees take turns ``--rounds`` times and the best of each is
kept, so that a load burst on a shared machine hits both. The same invocation measures
the machine's float32 and bfloat16 matmul peaks (2048^3), and the achieved GFLOP/s is
given as a fraction of each (the step's FLOPs: three times the forward pass's, the usual
estimate for forward plus backward).

    python bench/training.py [--presets=tiny,small] [--precisions=float32,mixed_bfloat16]
        [--baseline=8040c39] [--batch=8] [--steps=8] [--rounds=2] [--devices=1]

``--devices=2`` runs MirroredStrategy over two logical CPU devices instead of one device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from absl import flags

from rsn_tf.cli import common
from rsn_tf.flops import matmul_peak

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, also when imported by path
from baseline_tree import ROOT, export_tree  # noqa: E402

CHILD = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
devices, preset, batch_size, steps, precision = {devices}, {preset!r}, {batch}, {steps}, {precision!r}
if devices > 1:
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * devices)
from rsn_tf import config as config_lib
from rsn_tf.flops import model_flops
from rsn_tf.runtime import set_precision
from rsn_tf.schedule import get_stage
from rsn_tf.training.task import RSNTask
set_precision(precision)
config = config_lib.resolve(flag_values={{"model.preset": preset, "data.batch_size": batch_size}})
task = RSNTask(config, get_stage("joint"))
h, w = task.model_config.height, task.model_config.width
strategy = (tf.distribute.MirroredStrategy([f"CPU:{{i}}" for i in range(devices)]) if devices > 1
            else tf.distribute.get_strategy())
with strategy.scope():
    model = task.build_model()
    optimizer = task.build_optimizer(100)
    optimizer.build(model.trainable_variables)
rng = np.random.default_rng(0)
depth = rng.uniform(1, 6, (batch_size, h, w, 1)).astype(np.float32)
batch = {{"image": rng.uniform(0, 255, (batch_size, h, w, 3)).astype(np.float32), "depth": depth,
         "region_support": depth.round(), "regions": depth.round().astype(np.int32),
         "label": np.ones((batch_size, h, w, 1), np.int32)}}
it = iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch).repeat()))

@tf.function
def train(it):
    per = strategy.run(lambda b: task.train_step(b, model, optimizer, tf.constant(True), tf.constant(False)),
                       args=(next(it),))
    return strategy.reduce("SUM", per["total"], axis=None)

@tf.function
def forward(it):
    per = strategy.run(lambda b: tf.reduce_sum(model(task.model_inputs(b), training=True)["depth"]), args=(next(it),))
    return strategy.reduce("SUM", per, axis=None)

def best(fn):
    fn(it).numpy()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn(it).numpy()
        times.append(time.perf_counter() - t0)
    return min(times)

t0 = time.perf_counter()
train(it).numpy()
first = time.perf_counter() - t0
result = {{"train_s": best(train), "forward_s": best(forward), "first_step_s": first,
          "flops": 3 * model_flops(model, h, w, batch_size)}}
print(json.dumps(result))
"""

FLAGS = common.new_flag_values()
flags.DEFINE_list("presets", ["tiny", "small"], "Presets to measure.", flag_values=FLAGS)
flags.DEFINE_list("precisions", ["float32"], "Precisions to measure (float32, mixed_bfloat16).", flag_values=FLAGS)
flags.DEFINE_string("baseline", "8040c39", "Commit to compare against ('' for this tree alone).", flag_values=FLAGS)
flags.DEFINE_integer("batch", 8, "Global batch.", flag_values=FLAGS)
flags.DEFINE_integer("steps", 8, "Timed steps per measurement (the best is kept).", flag_values=FLAGS)
flags.DEFINE_integer("rounds", 2, "Times the two trees take turns.", flag_values=FLAGS)
flags.DEFINE_integer("devices", 1, "Logical CPU devices (2: MirroredStrategy).", flag_values=FLAGS)


def _run(code: str, tree: str) -> dict:
    env = {**os.environ, "PYTHONPATH": tree}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tree)
    if proc.returncode:
        raise SystemExit(f"measurement in {tree} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(positionals: list[str]) -> int:
    scratch = tempfile.mkdtemp(prefix="rsn_bench_training_")
    trees = {"this tree": ROOT}
    if FLAGS.baseline:
        trees = {f"baseline {FLAGS.baseline}": export_tree(FLAGS.baseline, scratch), **trees}
    peaks = {dtype: matmul_peak(dtype=dtype) for dtype in ("float32", "bfloat16")}
    best: dict[tuple[str, str, str], dict] = {}
    configs = [(preset, precision) for preset in FLAGS.presets for precision in FLAGS.precisions]
    for _ in range(FLAGS.rounds):
        for preset, precision in configs:
            for name, tree in trees.items():
                code = CHILD.format(
                    devices=FLAGS.devices, preset=preset, batch=FLAGS.batch, steps=FLAGS.steps, precision=precision
                )
                result = _run(code, tree)
                key = (preset, precision, name)
                if key not in best:
                    best[key] = result
                else:
                    for k in ("train_s", "forward_s", "first_step_s"):
                        best[key][k] = min(best[key][k], result[k])
    print(
        f"joint-stage step, global batch {FLAGS.batch}, {FLAGS.devices} device(s), {os.cpu_count()} CPU cores; "
        f"best of {FLAGS.rounds} alternating rounds x {FLAGS.steps} steps"
    )
    print(
        f"machine: float32 matmul {peaks['float32'] / 1e9:.0f} GFLOP/s, bfloat16 matmul "
        f"{peaks['bfloat16'] / 1e9:.0f} GFLOP/s (2048^3, best of 10)"
    )
    header = (
        f"{'preset':<7} {'precision':<15} {'tree':<18} {'images/s':>9} {'step s':>8} {'fwd s':>7} "
        f"{'1st step s':>10} {'GFLOP/s':>8} {'of f32':>7} {'of bf16':>7} {'speed-up':>9}"
    )
    print(header)
    for preset, precision in configs:
        reference = best[(preset, "float32" if "float32" in FLAGS.precisions else precision, next(iter(trees)))]
        for name in trees:
            r = best[(preset, precision, name)]
            gflops = r["flops"] / r["train_s"] / 1e9
            print(
                f"{preset:<7} {precision:<15} {name:<18} {FLAGS.batch / r['train_s']:9.2f} {r['train_s']:8.3f} "
                f"{r['forward_s']:7.3f} {r['first_step_s']:10.1f} {gflops:8.1f} {gflops * 1e9 / peaks['float32']:7.2f} "
                f"{gflops * 1e9 / peaks['bfloat16']:7.2f} {reference['train_s'] / r['train_s']:8.2f}x"
            )
    print("speed-up: against the first tree's float32 step of the same preset.")
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/training.py"))
