"""Quick start: seconds from the start of an ``rsn-train`` process to the end of its first step.

A baseline commit (its tree exported with ``git archive``) against this tree, taking turns.
Each run is a fresh process training the joint stage of the tiny preset on
``nyu_region_support/synthetic_hard_mini`` with a checkpoint after every step; the first
step has ended when ``ckpt-1.index`` appears (the write itself is milliseconds), and the
process is then stopped. Imports, the dataset checks, building the model, tracing the
train step and running it all count. Each tree builds its dataset in its own data dir
in an untimed first run.

    python bench/startup.py [--baseline=8040c39] [--rounds=3]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from absl import flags

from rsn_tf.cli import common

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, also when imported by path
from baseline_tree import ROOT, export_tree  # noqa: E402

FLAGS = common.new_flag_values()
flags.DEFINE_string("baseline", "8040c39", "Commit to compare against.", flag_values=FLAGS)
flags.DEFINE_integer("rounds", 3, "Timed runs per tree (taking turns).", flag_values=FLAGS)
flags.DEFINE_integer("timeout_s", 600, "Give up on a run after this long.", flag_values=FLAGS)

_LAUNCH = "import sys; from rsn_tf.cli.train import main; sys.exit(main(sys.argv[1:]))"


def _first_step_seconds(tree: str, work: str, tag: str) -> float:
    model_dir = os.path.join(work, f"run_{tag}")
    shutil.rmtree(model_dir, ignore_errors=True)
    argv = [
        "--dataset=nyu_region_support/synthetic_hard_mini",
        f"--data_dir={os.path.join(work, 'tfds')}",
        f"--model_dir={model_dir}",
        "--stage=joint",
        "--epochs=1",
        "--steps_per_epoch=3",
        "--checkpoint_every_steps=1",
        "--batch_size=8",
        "--export=false",
        "--image_summaries=0",
    ]
    marker = os.path.join(model_dir, "joint", "ckpt-1.index")
    log = open(os.path.join(work, f"{tag}.log"), "w")
    env = {**os.environ, "PYTHONPATH": tree}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCH, *argv], cwd=tree, env=env, stdout=log, stderr=log)
    try:
        while not os.path.exists(marker):
            if proc.poll() is not None:
                raise SystemExit(f"{tree}: rsn-train ended ({proc.returncode}) before its first step; see {log.name}")
            if time.perf_counter() - started > FLAGS.timeout_s:
                raise SystemExit(f"{tree}: no first step after {FLAGS.timeout_s} s; see {log.name}")
            time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        proc.kill()
        proc.wait()
        log.close()


def main(positionals: list[str]) -> int:
    scratch = tempfile.mkdtemp(prefix="rsn_bench_startup_")
    trees = {
        f"baseline {FLAGS.baseline}": (export_tree(FLAGS.baseline, os.path.join(scratch, "baseline_tree")), "base"),
        "this tree": (ROOT, "new"),
    }
    for tree, tag in trees.values():  # untimed: builds each tree's dataset
        os.makedirs(os.path.join(scratch, tag), exist_ok=True)
        _first_step_seconds(tree, os.path.join(scratch, tag), "warmup")
    times: dict[str, list[float]] = {name: [] for name in trees}
    for round_ in range(FLAGS.rounds):
        for name, (tree, tag) in trees.items():
            times[name].append(_first_step_seconds(tree, os.path.join(scratch, tag), f"round{round_}"))
    print(f"process start to the end of the first training step (tiny preset, joint, batch 8), {FLAGS.rounds} runs")
    base = statistics.median(next(iter(times.values())))
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"  {name:<20} median {median:6.1f} s  (min {min(values):.1f}, max {max(values):.1f})  "
            f"{median / base:.2f}x the baseline"
        )
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/startup.py"))
