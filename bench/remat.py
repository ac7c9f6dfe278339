"""Peak memory and step time of the joint-stage train step under each ``--remat`` mode (none;
the generation trunk; the trunk and each refinement iteration), for the GPU-readiness
figures, on this machine.

Each configuration runs in a fresh process, because the figure is the process's peak resident
memory (``ru_maxrss``): the trainer's own step (``RSNTask.train_step``) on a random in-memory
batch at the preset's size, ``--steps`` timed steps after one untimed. A process that would pass
``--memory_limit_gib`` is stopped by the kernel (RLIMIT_DATA) and reported as such, so a
configuration that does not fit cannot push the machine into swap. The modes take turns,
``--rounds`` times; the table gives medians and the ratios against ``none``.

    python bench/remat.py --preset=paper --size=480x640 --batch=1 --precisions=float32,mixed_bfloat16
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time

from absl import flags

from rsn_tf.cli import common

FLAGS = common.new_flag_values()
flags.DEFINE_string("preset", "paper", "Model preset.", flag_values=FLAGS)
flags.DEFINE_string("size", "480x640", "HxW.", flag_values=FLAGS)
flags.DEFINE_integer("batch", 8, "Global batch (one device).", flag_values=FLAGS)
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Keras dtype policies.", flag_values=FLAGS)
flags.DEFINE_integer("steps", 2, "Timed steps per run, after one untimed.", flag_values=FLAGS)
flags.DEFINE_list("modes", ["none", "trunk", "all"], "--remat modes.", flag_values=FLAGS)
flags.DEFINE_integer("rounds", 1, "Rounds; each runs every mode once, in turn.", flag_values=FLAGS)
flags.DEFINE_float(
    "memory_limit_gib",
    0.85 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
    "Stop a run whose data segment passes this (GiB; default 85 % of this machine's memory).",
    flag_values=FLAGS,
)
flags.DEFINE_string("child", None, "Internal: run one configuration (JSON) and print its figures.", flag_values=FLAGS)


def _rss_gib() -> float:
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kib / 2**20


def _child(spec: dict) -> dict:
    limit = int(spec["limit_gib"] * 2**30)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    import tensorflow as tf

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from random_step import joint_train_step

    from rsn_tf import config as config_lib
    from rsn_tf.runtime import set_precision
    from rsn_tf.schedule import get_stage
    from rsn_tf.training.task import RSNTask

    set_precision(spec["precision"])
    config = config_lib.resolve(
        flag_values={"model.preset": spec["preset"], "data.batch_size": spec["batch"], "runtime.remat": spec["remat"]}
    )
    task = RSNTask(config, get_stage("joint"))
    task.model_config = task.model_config.replace(height=spec["height"], width=spec["width"])
    step, _ = joint_train_step(task, tf.distribute.get_strategy())
    built = _rss_gib()
    start = time.perf_counter()
    step().numpy()
    first = time.perf_counter() - start
    times = []
    for _ in range(spec["steps"]):
        start = time.perf_counter()
        step().numpy()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {"built_gib": built, "peak_gib": peak, "first_s": first, "step_s": statistics.median(times)}


def _run(spec: dict) -> dict | None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), f"--child={json.dumps(spec)}"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1][:160]
        print(f"  {spec['precision']} --remat={spec['remat']}: failed (exit {out.returncode}): {tail}", flush=True)
        return None
    return json.loads(lines[-1])


def main(positionals: list[str]) -> int:
    if FLAGS.child:
        print(json.dumps(_child(json.loads(FLAGS.child))), flush=True)
        return 0
    height, width = (int(v) for v in FLAGS.size.split("x"))
    print(
        f"joint-stage train step, {FLAGS.preset} preset at {height}x{width}, batch {FLAGS.batch}, one device, "
        f"{os.cpu_count()} CPU cores; median of {FLAGS.rounds} round(s) x {FLAGS.steps} steps; "
        f"memory limit {FLAGS.memory_limit_gib:.1f} GiB",
        flush=True,
    )
    results: dict[tuple[str, str], list[dict]] = {}
    for _ in range(FLAGS.rounds):
        for precision in FLAGS.precisions:
            for remat in FLAGS.modes:
                spec = {
                    "preset": FLAGS.preset, "height": height, "width": width, "batch": FLAGS.batch,
                    "precision": precision, "remat": remat, "steps": FLAGS.steps,
                    "limit_gib": FLAGS.memory_limit_gib,
                }  # fmt: skip
                r = _run(spec)
                if r is not None:
                    results.setdefault((precision, remat), []).append(r)
    print("| precision | remat | peak RSS GiB | RSS before the first step GiB | step s | first step s "
          "| peak vs none | time vs none |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for precision in FLAGS.precisions:
        plain = results.get((precision, "none"))
        for remat in FLAGS.modes:
            runs = results.get((precision, remat))
            if not runs:
                print(f"| {precision} | {remat} | did not finish | | | | | |")
                continue
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            if plain:
                base = {k: statistics.median(r[k] for r in plain) for k in plain[0]}
                ratios = f"{med['peak_gib'] / base['peak_gib']:.2f}x | {med['step_s'] / base['step_s']:.2f}x"
            else:
                ratios = "– | –"
            print(
                f"| {precision} | {remat} | {med['peak_gib']:.2f} | {med['built_gib']:.2f} | "
                f"{med['step_s']:.2f} | {med['first_s']:.1f} | {ratios} |"
            )
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/remat.py"))
