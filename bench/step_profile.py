"""Where a training step's time goes: per module, per refinement iteration and per op type,
against the machine's own ceilings measured in the same run.

It traces a few joint-stage steps on random batches with TensorFlow's profiler and sums
the host's op events (the XPlane that TensorBoard's profile plugin reads) by op type and
by the model part their names belong to. The ceilings are a 2048^3 matmul in float32 and
bfloat16 and a streaming pass over a 256 MiB array (memory bandwidth).

    python bench/step_profile.py [--preset=tiny] [--batch=8] [--steps=5] [--precision=float32]
"""

from __future__ import annotations

import collections
import glob
import os
import re
import tempfile
import time

from absl import flags

from rsn_tf.cli import common

FLAGS = common.new_flag_values()
flags.DEFINE_string("preset", "tiny", "Preset.", flag_values=FLAGS)
flags.DEFINE_integer("batch", 8, "Batch.", flag_values=FLAGS)
flags.DEFINE_integer("steps", 5, "Profiled steps (after 3 warm-up steps).", flag_values=FLAGS)
flags.DEFINE_string("precision", "float32", "float32 or mixed_bfloat16.", flag_values=FLAGS)
flags.DEFINE_string("stage", "joint", "Stage to profile.", flag_values=FLAGS)


def ceilings() -> dict[str, float]:
    """float32 / bfloat16 matmul GFLOP/s and streaming memory bandwidth (GB/s), best of 5."""
    import tensorflow as tf

    from rsn_tf.flops import matmul_peak

    out = {f"matmul_{dtype}_gflops": matmul_peak(dtype=dtype, repeats=5) / 1e9 for dtype in ("float32", "bfloat16")}
    x = tf.ones((64 * 1024 * 1024,), tf.float32)  # 256 MiB
    g = tf.function(lambda v: v * 1.5)
    g(x)
    best = min(_time(lambda: g(x)[0].numpy()) for _ in range(5))
    out["memory_gbps"] = 2 * x.shape[0] * 4 / best / 1e9  # one read and one write
    return out


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# Model parts, matched against an op's full name (forward and gradient ops alike), first match wins.
_PARTS = [
    ("losses (Lr, Li segment reductions)", re.compile(r"region_loss|iterative_loss|combined_loss|unsorted_segment")),
    ("refinement pyramid pooling unit", re.compile(r"refinement.*pyramid")),
    ("generation pyramid pooling unit", re.compile(r"generation.*pyramid")),
    ("refinement module (other layers)", re.compile(r"refinement")),
    ("generation module (other layers)", re.compile(r"generation")),
    ("optimizer", re.compile(r"(?i)adam|apply|assignadd|assignsub|resourceapply")),
]


def _part(name: str) -> str:
    for part, pattern in _PARTS:
        if pattern.search(name):
            return part
    return "other (NaN guards, casts, step glue)"


def _iteration(name: str) -> str | None:
    match = re.search(r"refine_iteration_(\d+)", name)
    return match.group(1) if match else None


def _op_events(logdir: str):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    [path] = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):  # the inter-op threads, which run the ops
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" in name and "::" not in name:  # "scope/op_name:OpType"; the rest is bookkeeping
                    yield name, event.duration_ps / 1e12


def main(positionals: list[str]) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    from rsn_tf import config as config_lib
    from rsn_tf.flops import model_flops
    from rsn_tf.runtime import set_precision
    from rsn_tf.schedule import get_stage
    from rsn_tf.training.task import RSNTask

    limits = ceilings()
    set_precision(FLAGS.precision)
    config = config_lib.resolve(flag_values={"model.preset": FLAGS.preset, "data.batch_size": FLAGS.batch})
    task = RSNTask(config, get_stage(FLAGS.stage))
    h, w = task.size
    model = task.build_model()
    optimizer = task.build_optimizer(100)
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    depth = rng.uniform(1, 6, (FLAGS.batch, h, w, 1)).astype(np.float32)
    batch = {
        "image": tf.constant(rng.uniform(0, 255, (FLAGS.batch, h, w, 3)).astype(np.float32)),
        "depth": tf.constant(depth),
        "region_support": tf.constant(depth.round()),
        "regions": tf.constant(depth.round().astype(np.int32)),
        "label": tf.ones((FLAGS.batch, h, w, 1), tf.int32),
    }
    step = tf.function(lambda b: task.train_step(b, model, optimizer, tf.constant(True), tf.constant(False)))
    t0 = time.perf_counter()
    step(batch)["total"].numpy()
    trace_s = time.perf_counter() - t0
    for _ in range(2):
        step(batch)["total"].numpy()
    timed = min(_time(lambda: step(batch)["total"].numpy()) for _ in range(FLAGS.steps))

    logdir = tempfile.mkdtemp(prefix="rsn_profile_")
    tf.profiler.experimental.start(logdir)
    for _ in range(FLAGS.steps):
        step(batch)["total"].numpy()
    tf.profiler.experimental.stop()

    by_type: dict[str, float] = collections.Counter()
    by_part: dict[str, float] = collections.Counter()
    by_iteration: dict[str, float] = collections.Counter()
    total = 0.0
    for name, seconds in _op_events(logdir):
        op_type = name.rsplit(":", 1)[-1] if ":" in name else name
        by_type[op_type] += seconds
        by_part[_part(name)] += seconds
        iteration = _iteration(name)
        if iteration:
            by_iteration[iteration] += seconds
        total += seconds

    # Forward and backward: three times the forward pass's FLOPs (the usual estimate).
    flops = 3 * model_flops(model, h, w, FLAGS.batch)
    print(
        f"{FLAGS.stage} step, preset {FLAGS.preset} ({h}x{w}), batch {FLAGS.batch}, {FLAGS.precision}, "
        f"{os.cpu_count()} CPU cores"
    )
    print(
        f"  machine: float32 matmul {limits['matmul_float32_gflops']:.0f} GFLOP/s, bfloat16 matmul "
        f"{limits['matmul_bfloat16_gflops']:.0f} GFLOP/s, memory {limits['memory_gbps']:.1f} GB/s"
    )
    line = f"  step: {timed:.3f} s (best of {FLAGS.steps}), {FLAGS.batch / timed:.1f} images/s"
    line += f"; first call {trace_s:.1f} s"
    if flops:
        achieved = flops / timed / 1e9
        line += (
            f"; {achieved:.1f} GFLOP/s = {achieved / limits['matmul_float32_gflops']:.2f} of the float32 peak, "
            f"{achieved / limits['matmul_bfloat16_gflops']:.2f} of the bfloat16 peak"
        )
    print(line)
    print(f"  op time summed over the profiled steps: {total:.2f} s (both cores' ops; may exceed wall time)")
    print("  by model part:")
    for part, seconds in sorted(by_part.items(), key=lambda kv: -kv[1]):
        print(f"    {part:<44} {seconds / total:6.1%}")
    if by_iteration:
        print("  refinement iterations (forward and backward):")
        for iteration, seconds in sorted(by_iteration.items()):
            print(f"    iteration {iteration:<34} {seconds / total:6.1%}")
    print("  by op type (top 15):")
    for op_type, seconds in sorted(by_type.items(), key=lambda kv: -kv[1])[:15]:
        print(f"    {op_type:<44} {seconds / total:6.1%}")
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/step_profile.py"))
