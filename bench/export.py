"""SavedModel export time: a baseline commit against this tree, taking turns.

Each run is a fresh process per tree: it builds the same seeded, untrained tiny RSN at 48x64 and
times ``export_saved_model`` on it (plain, then with the confidence output), as the process's
wall and CPU seconds for that call alone. The CPU seconds are the steadier figure on a shared
machine. The baseline's tree is unpacked with ``git archive``; the installed libraries are shared.

    python bench/export.py [--baseline=17e68c1] [--rounds=3]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from absl import flags

from rsn_tf.cli import common

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, also when imported by path
from baseline_tree import ROOT, export_tree  # noqa: E402

FLAGS = common.new_flag_values()
flags.DEFINE_string("baseline", "17e68c1", "Commit to compare against.", flag_values=FLAGS)
flags.DEFINE_integer("rounds", 3, "Timed processes per tree (taking turns).", flag_values=FLAGS)

VARIANTS = {"plain": {}, "confidence": {"include_confidence": True}}

_CHILD = """
import json, os, sys, time
import keras
from rsn_tf.models import RegionSupportNetwork, get_preset
from rsn_tf.serving.exporter import export_saved_model
keras.utils.set_random_seed(3)
model = RegionSupportNetwork(get_preset("tiny", height=48, width=64))
model.build()
out = {}
for name, kwargs in json.loads(sys.argv[2]).items():
    wall, cpu = time.perf_counter(), time.process_time()
    export_saved_model(model, os.path.join(sys.argv[1], name), "rsn", **kwargs)
    out[name] = [time.perf_counter() - wall, time.process_time() - cpu]
print("RESULT " + json.dumps(out))
"""


def _export_seconds(tree: str, work: str) -> dict[str, list[float]]:
    """``{variant: [wall s, cpu s]}`` of one fresh process of ``tree``."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = {**os.environ, "PYTHONPATH": tree, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, work, json.dumps(VARIANTS)], cwd=tree, env=env, capture_output=True, text=True
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{tree}: the export process failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def main(positionals: list[str]) -> int:
    scratch = tempfile.mkdtemp(prefix="rsn_bench_export_")
    trees = {
        f"baseline {FLAGS.baseline}": export_tree(FLAGS.baseline, os.path.join(scratch, "baseline_tree")),
        "this tree": ROOT,
    }
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for round_ in range(FLAGS.rounds):
        for name, tree in trees.items():
            runs[name].append(_export_seconds(tree, os.path.join(scratch, f"out_{round_}")))
    print(f"export_saved_model, tiny RSN at 48x64, a fresh process per tree and round, {FLAGS.rounds} rounds (median)")
    base_name = next(iter(trees))
    for variant in VARIANTS:
        base_cpu = statistics.median(r[variant][1] for r in runs[base_name])
        for name in trees:
            wall = statistics.median(r[variant][0] for r in runs[name])
            cpu = statistics.median(r[variant][1] for r in runs[name])
            ratio = cpu / base_cpu
            print(f"  {variant:<11} {name:<18} wall {wall:5.1f} s  cpu {cpu:5.1f} s  {ratio:.2f}x the baseline's cpu")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/export.py"))
