"""Dataset build: synthetic generation speed, the synthetic config's build time, and peak RSS.

Peak RSS is measured on a build of the `merged` config from a synthetic NYU-format pair
of at least 1000 frames, in a child process that reports its own ru_maxrss. The baseline,
measured in the same run, is a child that only imports TensorFlow, TFDS and the builder:
the gap is what building costs. Rendering is timed with one thread (the baseline) and with
the renderer's default thread pool, on the same frames.

    python bench/dataset_build.py [--frames=1000] [--workdir=DIR]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import flags

from rsn_tf.cli import common

CHILD = """
import os, resource, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
import tensorflow_datasets as tfds
from tfds_nyu.nyu_region_support import Builder
if {build!r}:
    t0 = time.perf_counter()
    b = Builder(config={config!r}, data_dir={data_dir!r})
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir={manual!r}))
    n = sum(s.num_examples for s in b.info.splits.values())
    print(f"built {{n}} examples in {{time.perf_counter() - t0:.1f}} s")
print("peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def run_child(build: bool, config: str, data_dir: str, manual: str) -> tuple[float, str]:
    """Run the child; return (its own peak RSS in MB, its last line before the RSS line)."""
    code = CHILD.format(build=build, config=config, data_dir=data_dir, manual=manual)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    peak = float(lines[-1].split()[-1])
    return peak, lines[-2] if len(lines) > 1 else ""


FLAGS = common.new_flag_values()
flags.DEFINE_integer("frames", 1000, "Frames in the RSS test file pair (>= 1000).", flag_values=FLAGS)
flags.DEFINE_string(
    "workdir", None, "Workdir. Default: a new temporary dir, never one shared with another run.", flag_values=FLAGS
)


def main(positionals: list[str]) -> int:
    if FLAGS.workdir is None:  # a fixed /tmp name would be shared by two runs (and removed by the other)
        FLAGS.workdir = tempfile.mkdtemp(prefix="rsn_build_bench_")
    from tfds_nyu import synthetic

    shutil.rmtree(FLAGS.workdir, ignore_errors=True)
    os.makedirs(FLAGS.workdir)

    seconds = {}
    for workers in (1, None):  # one thread (the baseline), then the default pool
        t0 = time.perf_counter()
        synthetic.generate(os.path.join(FLAGS.workdir, f"gen200_{workers}"), 100, 100, workers=workers)
        seconds[workers] = time.perf_counter() - t0
    print(
        f"synthetic generation, 200 frames at 480x640: one thread {seconds[1]:.1f} s (baseline); "
        f"thread pool {seconds[None]:.1f} s ({seconds[1] / seconds[None]:.2f}x)"
    )

    # The baseline child first: RUSAGE_CHILDREN keeps the maximum over all children.
    base_rss, _ = run_child(False, "merged", "", "")
    t0 = time.perf_counter()
    synth_rss, line = run_child(True, "synthetic", os.path.join(FLAGS.workdir, "data_synth"), "")
    print(f"synthetic config (render its 400 frames + build): {time.perf_counter() - t0:.1f} s wall; {line}")

    v2 = FLAGS.frames // 2
    manual = os.path.join(FLAGS.workdir, "big")
    t0 = time.perf_counter()
    paths = synthetic.generate(manual, v2, FLAGS.frames - v2, progress=False)
    size = sum(p.stat().length for p in paths.values()) / 1e6
    print(f"RSS test files: {FLAGS.frames} frames, {size:.0f} MB on disk, written in {time.perf_counter() - t0:.0f} s")
    big_rss, line = run_child(True, "merged", os.path.join(FLAGS.workdir, "data_big"), manual)
    print(f"merged config from {FLAGS.frames} frames: {line}")
    print(
        f"peak RSS: baseline (imports only) {base_rss:.0f} MB; synthetic build {synth_rss:.0f} MB; "
        f"{FLAGS.frames}-frame build {big_rss:.0f} MB ({big_rss / base_rss:.2f}x baseline, "
        f"{big_rss - base_rss:.0f} MB above it); limit 2048 MB"
    )

    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/dataset_build.py"))
