"""GPU figures in one short run: training images/s, peak device memory and inference latency.

For each preset (``paper``, ``small``) at each size (480x640, 240x320), with float32 and
mixed_bfloat16, with and without XLA, and with ``--remat=all`` (gradient checkpointing): the
joint stage's training step (RSNTask.train_step, the trainer's own step) under
MirroredStrategy on every local GPU, at ``--batch`` images per replica on random in-memory
batches (no input pipeline), and the batch-1 inference latency.
Peak device memory comes from ``tf.config.experimental.get_memory_info`` (reset before each
row). A bf16 matmul in the same run gives the machine's achievable bf16 rate; each row's
training FLOP/s (3 x the forward FLOPs of rsn_tf.flops, per image) is printed as a fraction
of it. A row that runs out of memory says so, and says what to try (a smaller batch,
mixed_bfloat16). The run stops starting new rows after ``--budget_s`` seconds.

Without a GPU it runs as a dry run of itself: the ``tiny`` preset at 48x64, batch 2, a few
steps, host RSS instead of device memory (CI runs it this way).

    python bench/gpu.py                                  # on a GPU machine: the full table in <= 8 min
    python bench/gpu.py --dry_run                        # CPU, tiny, seconds
"""

from __future__ import annotations

import os
import resource
import statistics
import time

from absl import flags

from rsn_tf.cli import common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FLAGS = common.new_flag_values()
flags.DEFINE_list("presets", ["paper", "small"], "Presets.", flag_values=FLAGS)
flags.DEFINE_list("sizes", ["480x640", "240x320"], "HxW sizes.", flag_values=FLAGS)
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Keras dtype policies.", flag_values=FLAGS)
flags.DEFINE_list("xla", ["off", "on"], "XLA (jit_compile) off and/or on.", flag_values=FLAGS)
flags.DEFINE_list(
    "remat",
    ["none", "all"],
    "--remat modes (none, trunk, all); the others than none run without XLA.",
    flag_values=FLAGS,
)
flags.DEFINE_integer("batch", 8, "Images per replica.", flag_values=FLAGS)
flags.DEFINE_integer("steps", 20, "Timed training steps per row (after 3 warm-up steps).", flag_values=FLAGS)
flags.DEFINE_integer("latency_runs", 20, "Timed batch-1 inference calls per row.", flag_values=FLAGS)
flags.DEFINE_float("budget_s", 420.0, "Start no new row after this many seconds.", flag_values=FLAGS)
flags.DEFINE_boolean("dry_run", False, "CPU dry run: tiny preset, 48x64, batch 2, 2 steps.", flag_values=FLAGS)
flags.DEFINE_integer("merged_train_frames", 3264, "Training frames of nyu_region_support/merged.", flag_values=FLAGS)


def _matmul_rate(tf, device: str, n: int) -> float:
    """Achieved bf16 matmul FLOP/s on ``device`` (n x n x n, median of 10)."""
    with tf.device(device):
        a = tf.random.normal((n, n), dtype=tf.bfloat16)
        b = tf.random.normal((n, n), dtype=tf.bfloat16)
        mm = tf.function(lambda x, y: tf.matmul(x, y))
        mm(a, b).numpy()
        times = []
        for _ in range(10):
            start = time.perf_counter()
            mm(a, b).numpy()
            times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times)


def _row(tf, keras, strategy, row: dict, gpus: list) -> dict:
    import numpy as np
    from random_step import joint_train_step

    from rsn_tf import config as config_lib
    from rsn_tf.flops import model_flops
    from rsn_tf.schedule import get_stage
    from rsn_tf.training.task import RSNTask

    keras.mixed_precision.set_global_policy(row["precision"])
    batch = FLAGS.batch * strategy.num_replicas_in_sync
    flag_values = {"model.preset": row["preset"], "data.batch_size": batch, "runtime.remat": row["remat"]}
    task = RSNTask(config_lib.resolve(flag_values=flag_values), get_stage("joint"))
    h, w = row["size"]
    task.model_config = task.model_config.replace(height=h, width=w)
    if gpus:
        tf.config.experimental.reset_memory_stats("GPU:0")
    step, model = joint_train_step(task, strategy, xla=row["xla"])
    for _ in range(3):
        step().numpy()
    start = time.perf_counter()
    for _ in range(FLAGS.steps):
        loss = step()
    loss.numpy()
    train_s = time.perf_counter() - start
    images_s = batch * FLAGS.steps / train_s
    infer = tf.function(lambda x: model(x, training=False)["depth"], jit_compile=row["xla"])
    one = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, h, w, 3)).astype(np.float32))
    infer(one).numpy()
    times = []
    for _ in range(FLAGS.latency_runs):
        t = time.perf_counter()
        infer(one).numpy()
        times.append(time.perf_counter() - t)
    if gpus:
        peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**30
        memory = f"{peak:.2f} GiB (GPU:0)"
    else:
        memory = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB (host RSS, process peak)"
    keras.mixed_precision.set_global_policy("float32")
    forward = model_flops(model, h, w)
    return {
        "images_s": images_s,
        "latency_ms": statistics.median(times) * 1e3,
        "memory": memory,
        "train_flops_s": 3 * forward * images_s,
        "forward_gflops": forward / 1e9,
    }


def _rows(presets: list[str], sizes: list[tuple[int, int]]) -> list[dict]:
    """The rows in the order they matter, so that a spent budget cuts the least useful: for each
    preset and size, every precision without XLA, then each --remat mode but none at every
    precision (without XLA), then XLA."""
    rows = []
    for preset in presets:
        for size in sizes:
            base = {"preset": preset, "size": size, "xla": False, "remat": "none"}
            rows += [{**base, "precision": p} for p in FLAGS.precisions if "off" in FLAGS.xla]
            rows += [{**base, "precision": p, "remat": m} for m in FLAGS.remat if m != "none" for p in FLAGS.precisions]
            rows += [{**base, "precision": p, "xla": True} for p in FLAGS.precisions if "on" in FLAGS.xla]
    return rows


def main(positionals: list[str]) -> int:
    import keras
    import tensorflow as tf

    began = time.perf_counter()
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)  # so the peak is what the row needed
    if FLAGS.dry_run or not gpus:
        if not FLAGS.dry_run:
            print("No GPU found: running the CPU dry run (--dry_run).")
        presets, sizes, FLAGS.batch, FLAGS.steps, FLAGS.latency_runs = ["tiny"], [(48, 64)], 2, 2, 3
        matmul_n, gpus = 512, []
    else:
        presets = FLAGS.presets
        sizes = [tuple(int(v) for v in s.split("x")) for s in FLAGS.sizes]
        matmul_n = 8192
    strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    device = "GPU:0" if gpus else "CPU:0"
    peak_rate = _matmul_rate(tf, device, matmul_n)
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else "CPU"
    print(
        f"{name} x{max(1, len(gpus))}, {strategy.__class__.__name__}, batch {FLAGS.batch} per replica, "
        f"{FLAGS.steps} timed steps; bf16 matmul {matmul_n}^3: {peak_rate / 1e12:.1f} TFLOP/s achieved"
    )
    print(
        "| preset | size | precision | XLA | remat | train images/s | s per merged epoch | peak memory "
        "| inference ms (batch 1) | fraction of bf16 matmul rate |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in _rows(presets, sizes):
        size = row["size"]
        xla = "on" if row["xla"] else "off"
        label = f"| {row['preset']} | {size[0]}x{size[1]} | {row['precision']} | {xla} | {row['remat']} |"
        if time.perf_counter() - began > FLAGS.budget_s:
            print(f"{label} not run: the {FLAGS.budget_s:.0f} s budget is spent | | | | |")
            continue
        try:
            r = _row(tf, keras, strategy, row, gpus)
        except tf.errors.ResourceExhaustedError:
            print(
                f"{label} out of memory at batch {FLAGS.batch} per replica: try --remat=all, a smaller --batch "
                "or mixed_bfloat16 | | | | |"
            )
            continue
        except Exception as error:  # an XLA or kernel limitation: one row, not the run
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            detail = next((line for line in lines if "rror" in line and "Graph execution" not in line), "")
            detail = (detail or (lines[-1] if lines else ""))[:140].replace("|", "/")
            print(f"{label} failed: {type(error).__name__}: {detail} | | | | |")
            continue
        epoch = FLAGS.merged_train_frames / r["images_s"]
        print(
            f"{label} {r['images_s']:.1f} | {epoch:.0f} | {r['memory']} | {r['latency_ms']:.1f} | "
            f"{r['train_flops_s'] / peak_rate:.3f} |",
            flush=True,
        )
    print(f"Total {time.perf_counter() - began:.0f} s.")
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/gpu.py"))
