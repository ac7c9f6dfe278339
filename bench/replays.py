"""Deterministic replays: how often two ``rsn-train --deterministic`` runs of one config differ.

Each pair is two fresh processes training the joint stage of the tiny preset for ``--steps``
steps on ``nyu_region_support/synthetic_mini`` with the same seed; the pair is identical when
every array of the generation and refinement weight files is bit-identical. ``--inter_op``
overrides the one inter-op thread that ``--deterministic`` sets (an env var set by hand wins, with
a warning; ``default``: leave it), which is how the cause of the differing replays was found
(BENCHMARKS.md, "Deterministic replays").

    python bench/replays.py [--pairs=3] [--steps=4] [--inter_op=default|1|2] [--intra_op=N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
from absl import flags

from rsn_tf.cli import common

FLAGS = common.new_flag_values()
flags.DEFINE_integer("pairs", 3, "Replay pairs to run.", flag_values=FLAGS)
flags.DEFINE_integer("steps", 4, "Training steps per run.", flag_values=FLAGS)
flags.DEFINE_string("inter_op", "default", "TF_NUM_INTEROP_THREADS for the runs (default: what rsn-train sets).",
                    flag_values=FLAGS)  # fmt: skip
flags.DEFINE_string("intra_op", "default", "TF_NUM_INTRAOP_THREADS for the runs (default: TensorFlow's).",
                    flag_values=FLAGS)  # fmt: skip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASET = "nyu_region_support/synthetic_mini"
# The exact test's settings (tests/test_training.py), one epoch.
_FLAGS = ["--stage=joint", "--precision=float32", "--batch_size=4", "--eval_batches=1", "--image_summaries=0",
          "--export=false", "--checkpoint_every_steps=100", "--deterministic", "--seed=4",
          "--learning_rate=0.002", "--color_jitter=0.1", "--epochs=1"]  # fmt: skip


def _weights(stage_dir: str) -> dict[str, np.ndarray]:
    import h5py

    out = {}
    for module in ("generation", "refinement"):
        with h5py.File(os.path.join(stage_dir, f"{module}.weights.h5")) as fh:
            fh.visititems(lambda n, o, m=module: out.__setitem__(f"{m}/{n}", o[()]) if hasattr(o, "shape") else None)
    return out


def _train(data_dir: str, model_dir: str, steps: int, env: dict) -> dict[str, np.ndarray]:
    cmd = [sys.executable, os.path.join(ROOT, "train.py"), f"--dataset={DATASET}", f"--data_dir={data_dir}",
           f"--model_dir={model_dir}", f"--steps_per_epoch={steps}", *_FLAGS]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"rsn-train failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return _weights(os.path.join(model_dir, "joint"))


def main(positionals: list[str]) -> int:
    import tensorflow_datasets as tfds

    import tfds_nyu  # noqa: F401  registers the builder

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for name, value in (("TF_NUM_INTEROP_THREADS", FLAGS.inter_op), ("TF_NUM_INTRAOP_THREADS", FLAGS.intra_op)):
        if value != "default":
            env[name] = value
    with tempfile.TemporaryDirectory(prefix="rsn_replays_") as work:
        data_dir = os.path.join(work, "tfds")
        tfds.builder(DATASET, data_dir=data_dir).download_and_prepare()
        identical = 0
        for pair in range(FLAGS.pairs):
            a, b = (_train(data_dir, os.path.join(work, f"p{pair}{k}"), FLAGS.steps, env) for k in "ab")
            differ = [k for k in a if not np.array_equal(a[k], b[k])]
            # worst: the largest |diff| / (|w| + 1e-3) over the differing arrays
            worst = max((float(np.max(np.abs(a[k] - b[k]) / (np.abs(a[k]) + 1e-3))) for k in differ), default=0.0)
            identical += not differ
            print(
                f"pair {pair + 1}: {len(differ)} of {len(a)} arrays differ; largest |diff| / (|w| + 1e-3) {worst:.2e}"
            )
        print(f"inter_op={FLAGS.inter_op} intra_op={FLAGS.intra_op} steps={FLAGS.steps}: "
              f"{identical} of {FLAGS.pairs} pairs bit-identical")  # fmt: skip
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/replays.py"))
