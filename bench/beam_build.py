"""Building on Apache Beam (DirectRunner, multi-processing) with 1 and 2 workers, against the in-process build.

Writes ``--frames`` frames in the NYU h5 layout and as an RGB-D folder (synthetic renders,
our writers), then builds ``nyu_h5_tree`` and ``rgbd_folder`` three ways, each in
a child process: in process (the baseline), and on the DirectRunner in multi-processing mode
with 1 and with 2 workers. Reported: frames/s of the build and the peak RSS summed over the
child and all its worker processes (sampled every 0.2 s), each as a ratio against the
in-process build of the same run.

    python bench/beam_build.py [--frames=200] [--workdir=DIR]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import psutil
from absl import flags

from rsn_tf.cli import common

FLAGS = common.new_flag_values()
flags.DEFINE_integer("frames", 200, "Frames per dataset.", flag_values=FLAGS)
flags.DEFINE_string(
    "workdir", None, "Workdir. Default: a new temporary dir, never one shared with another run.", flag_values=FLAGS
)

CHILD = """
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow_datasets as tfds
import tfds_nyu
workers = {workers!r}
options = None
if workers:
    import apache_beam as beam
    options = beam.options.pipeline_options.PipelineOptions(
        ["--runner=DirectRunner", "--direct_running_mode=multi_processing", f"--direct_num_workers={{workers}}"])
builder = tfds.builder({dataset!r}, data_dir={data_dir!r})
t0 = time.perf_counter()
builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir={manual!r}, beam_options=options))
n = sum(s.num_examples for s in builder.info.splits.values())
print(json.dumps({{"frames": n, "seconds": time.perf_counter() - t0}}))
"""


def run_child(dataset: str, manual: str, data_dir: str, workers: int) -> dict:
    code = CHILD.format(dataset=dataset, manual=manual, data_dir=data_dir, workers=workers)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(err[-3000:])
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = peak / 2**20
    return result


def write_data(root: str, frames: int) -> tuple[str, str]:
    from tfds_nyu import nyu_h5, rgbd_frames, synthetic

    tree, folder = os.path.join(root, "h5"), os.path.join(root, "folder")
    for i in range(frames):
        frame = synthetic.render(synthetic.make_scene(i // 10, seed=4), i % 10)
        part = "val/official" if i % 10 == 0 else f"train/scene_{i // 10:04d}"
        nyu_h5.write_h5_frame(os.path.join(tree, part, f"{i + 1:05d}.h5"), frame.image, frame.raw_depth)
        rgbd_frames.write_frame(folder, f"frame_{i:05d}", frame.image, frame.raw_depth)
    return tree, folder


def main(positionals: list[str]) -> int:
    if FLAGS.workdir is None:  # a fixed /tmp name would be shared by two runs (and removed by the other)
        FLAGS.workdir = tempfile.mkdtemp(prefix="rsn_beam_bench_")
    shutil.rmtree(FLAGS.workdir, ignore_errors=True)
    t0 = time.perf_counter()
    tree, folder = write_data(FLAGS.workdir, FLAGS.frames)
    print(f"wrote {FLAGS.frames} frames as an h5 tree and as an RGB-D folder in {time.perf_counter() - t0:.0f} s")
    print(f"cores: {os.cpu_count()}\n")
    print("| dataset | route | frames/s | vs in-process | peak RSS, all processes (MB) | vs in-process |")
    print("| --- | --- | --- | --- | --- | --- |")
    for dataset, manual in (("nyu_h5_tree", tree), ("rgbd_folder", folder)):
        rows = {}
        for workers in (0, 1, 2):
            data_dir = os.path.join(FLAGS.workdir, f"data_{dataset.split('/')[0]}_{workers}")
            rows[workers] = run_child(dataset, manual, data_dir, workers)
        base = rows[0]
        for workers, r in rows.items():
            route = "in process (baseline)" if not workers else f"Beam DirectRunner, {workers} worker(s)"
            fps, base_fps = r["frames"] / r["seconds"], base["frames"] / base["seconds"]
            print(
                f"| {dataset} | {route} | {fps:.2f} | {fps / base_fps:.2f}x | {r['peak_rss_mb']:.0f} | "
                f"{r['peak_rss_mb'] / base['peak_rss_mb']:.2f}x |"
            )
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/beam_build.py"))
