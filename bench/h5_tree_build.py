"""Building nyu_h5_tree from the sparse-to-dense h5 tree: frames/s and peak RSS.

Writes a tree of ``--frames`` frames in the exact layout (train/<scene>/<n>.h5 with
``rgb`` 3x480x640 uint8 and ``depth`` 480x640 float32, plus val/official/<n>.h5) from
synthetic renders, with our writer. Then, each in a child process that reports its own
peak RSS:

* baseline: imports only (TensorFlow, TFDS, the builder);
* reader: every frame read and turned into an example (label-free S, Algorithm 1, PNG and
  zlib encoding) without the TFDS writer, with the peak RSS after a third of the frames and
  after all of them: flat if reading does not grow with the tree;
* full builds of a third of the tree and of all of it.

    python bench/h5_tree_build.py [--frames=300] [--workdir=DIR]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import flags

from rsn_tf.cli import common

FLAGS = common.new_flag_values()
flags.DEFINE_integer("frames", 300, "Frames in the tree (10 % of them in val/official).", flag_values=FLAGS)
flags.DEFINE_string(
    "workdir", None, "Workdir. Default: a new temporary dir, never one shared with another run.", flag_values=FLAGS
)

CHILD = """
import json, os, resource, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
import tensorflow_datasets as tfds
from tfds_nyu.nyu_h5_tree import Builder
from tfds_nyu import nyu_h5
from tfds_nyu.examples import region_support_example
from tfds_nyu.label_free import DEFAULT_LABEL_FREE_MODE
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {{}}
t0 = time.perf_counter()
if {what!r} == "reader":
    frames = nyu_h5.scan_h5_tree({tree!r})
    for i, f in enumerate(frames):
        image, depth = nyu_h5.read_h5_frame(f.path)
        region_support_example(f.key, image, depth, None, DEFAULT_LABEL_FREE_MODE, "h5", f.scene)
        if i + 1 == len(frames) // 3:
            out["peak_rss_mb_third"] = peak()
    out["frames"] = len(frames)
elif {what!r} == "build":
    b = Builder(config="felzenszwalb", data_dir={data_dir!r})
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir={tree!r}))
    out["frames"] = sum(s.num_examples for s in b.info.splits.values())
out["seconds"] = time.perf_counter() - t0
out["peak_rss_mb"] = peak()
print(json.dumps(out))
"""


def child(what: str, tree: str = "", data_dir: str = "") -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(what=what, tree=tree, data_dir=data_dir)], capture_output=True, text=True
    )
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_tree(root: str, frames: int) -> None:
    from tfds_nyu import nyu_h5, synthetic

    val = max(1, frames // 10)
    for i in range(frames):
        scene_index = i // 10 if i >= val else None
        frame = synthetic.render(synthetic.make_scene(i // 10, seed=3), i % 10)
        where = "val/official" if scene_index is None else f"train/scene_{scene_index:04d}"
        nyu_h5.write_h5_frame(os.path.join(root, where, f"{i + 1:05d}.h5"), frame.image, frame.raw_depth)


def main(positionals: list[str]) -> int:
    if FLAGS.workdir is None:  # a fixed /tmp name would be shared by two runs (and removed by the other)
        FLAGS.workdir = tempfile.mkdtemp(prefix="rsn_h5_bench_")
    shutil.rmtree(FLAGS.workdir, ignore_errors=True)
    trees = {n: os.path.join(FLAGS.workdir, f"tree_{n}") for n in (FLAGS.frames // 3, FLAGS.frames)}
    t0 = time.perf_counter()
    for n, root in trees.items():
        write_tree(root, n)
    print(f"wrote h5 trees of {', '.join(map(str, trees))} frames in {time.perf_counter() - t0:.0f} s")

    base = child("baseline")
    reader = child("reader", trees[FLAGS.frames])
    builds = {n: child("build", root, os.path.join(FLAGS.workdir, f"data_{n}")) for n, root in trees.items()}
    print(f"baseline (imports only): peak RSS {base['peak_rss_mb']:.0f} MB")
    print(
        f"reader only, {reader['frames']} frames: {reader['frames'] / reader['seconds']:.2f} frames/s; peak RSS "
        f"{reader['peak_rss_mb_third']:.0f} MB after {reader['frames'] // 3} frames, {reader['peak_rss_mb']:.0f} MB "
        f"after {reader['frames']} ({reader['peak_rss_mb'] - reader['peak_rss_mb_third']:+.0f} MB)"
    )
    for b in builds.values():
        print(
            f"full build, {b['frames']} frames: {b['frames'] / b['seconds']:.2f} frames/s "
            f"({b['frames'] / b['seconds'] / (reader['frames'] / reader['seconds']):.2f}x the reader alone); "
            f"peak RSS {b['peak_rss_mb']:.0f} MB ({b['peak_rss_mb'] / base['peak_rss_mb']:.2f}x baseline)"
        )
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/h5_tree_build.py"))
