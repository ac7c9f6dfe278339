"""Benchmark Algorithm 1: the vectorised ``region_support`` against the literal transcription.

Runs on the 50 real NYU v2 label maps in ``../shared/data/nyu_v2_test_labels13/``,
each paired with a smooth synthetic depth map (a tilted floor-like ramp, a slow
wave, and a per-class offset so that classes sit at different depths).

Both implementations run on one core (OpenCV threading off) in the same process,
so the speed-up is a ratio measured under the same machine load. ``--baseline_rev`` also
times the ``region_support`` of an earlier commit (read with ``git show``) on the same
frames, interleaved with the current one, and checks that both give the same targets.

    python bench/region_support.py [--frames=50] [--reference_frames=2] [--size=480x640] [--baseline_rev=cda597b]
"""

from __future__ import annotations

import glob
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
from absl import flags

from rsn_tf.cli import common
from tfds_nyu.region_support import region_support

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from algorithm1_reference import paper_reference  # noqa: E402  the tests' oracle, the literal Algorithm 1

LABEL_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "nyu_v2_test_labels13")


def smooth_depth(labels: np.ndarray) -> np.ndarray:
    """A smooth, plausible indoor depth map in metres for a label map (0.5-10 m)."""
    h, w = labels.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = 1.0 + 4.0 * (1.0 - yy / h)  # far at the top of the image, near at the bottom
    wave = 0.5 * np.sin(xx / 50.0) * np.cos(yy / 70.0)
    offset = 0.25 * (labels.astype(np.float32) % 7)
    return np.clip(ramp + wave + offset, 0.5, 10.0).astype(np.float32)


def load_frames(n: int, size: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    files = sorted(glob.glob(os.path.join(LABEL_DIR, "*.png")))[:n]
    if not files:
        raise SystemExit(f"no label maps found in {os.path.abspath(LABEL_DIR)}")
    frames = []
    for f in files:
        labels = cv2.imread(f, cv2.IMREAD_UNCHANGED)
        if labels.shape != size:
            labels = cv2.resize(labels, size[::-1], interpolation=cv2.INTER_NEAREST)
        frames.append((labels, smooth_depth(labels)))
    return frames


def time_per_frame(fn, frames, repeats: int) -> list[float]:
    """Median-of-``repeats`` seconds for each frame."""
    out = []
    for labels, depth in frames:
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(labels, depth)
            runs.append(time.perf_counter() - t0)
        out.append(statistics.median(runs))
    return out


FLAGS = common.new_flag_values()
flags.DEFINE_integer("frames", 50, "Label maps to time the fast version on.", flag_values=FLAGS)
flags.DEFINE_integer("reference_frames", 2, "Frames to time the literal version on.", flag_values=FLAGS)
flags.DEFINE_string("size", "480x640", "HxW to resize the label maps to.", flag_values=FLAGS)
flags.DEFINE_integer("repeats", 5, "Repeats.", flag_values=FLAGS)
flags.DEFINE_string(
    "baseline_rev", None, "A git revision whose region_support to time beside the current one.", flag_values=FLAGS
)


def load_revision(rev: str):
    """The ``tfds_nyu.region_support`` module as it was at git revision ``rev`` (before the layout
    change it lived in ``rsn_tf/region_support.py``)."""
    root = os.path.join(os.path.dirname(__file__), "..")
    for where in ("tfds_nyu/region_support.py", "rsn_tf/region_support.py"):
        shown = subprocess.run(["git", "show", f"{rev}:{where}"], cwd=root, capture_output=True, text=True)
        if shown.returncode == 0:
            source = shown.stdout
            break
    else:
        raise SystemExit(f"--baseline_rev={rev}: no region_support.py at that revision")
    path = os.path.join(tempfile.mkdtemp(), f"region_support_{rev}.py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(f"region_support_{rev}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def main(positionals: list[str]) -> int:
    size = tuple(int(v) for v in FLAGS.size.split("x"))
    cv2.setNumThreads(1)  # one core, as the target says

    frames = load_frames(FLAGS.frames, size)
    fast = time_per_frame(region_support, frames, FLAGS.repeats)
    ref_frames = frames[: FLAGS.reference_frames]
    ref = time_per_frame(paper_reference, ref_frames, 1)
    fast_same = fast[: len(ref_frames)]

    regions = [region_support(*f).num_regions for f in frames]
    fps = len(fast) / sum(fast)
    print(f"frames: {len(frames)} real NYU v2 label maps at {size[0]}x{size[1]}, one core")
    print(f"regions per frame: median {statistics.median(regions):.0f}, max {max(regions)}")
    print(
        f"region_support (vectorised): {1e3 * statistics.median(fast):.2f} ms/frame median, "
        f"{1e3 * max(fast):.2f} ms worst, {fps:.1f} frames/s"
    )
    print(f"paper_reference (literal):   {statistics.median(ref):.2f} s/frame median over {len(ref)} frame(s)")
    print(f"speed-up on the same frames: {sum(ref) / sum(fast_same):.0f}x")
    if FLAGS.baseline_rev:
        old_fn = load_revision(FLAGS.baseline_rev).region_support
        for labels, depth in frames:  # same targets, or the comparison means nothing
            new, old = region_support(labels, depth), old_fn(labels, depth)
            assert (new.regions == old.regions).all() and np.allclose(new.region_support, old.region_support)
        old_t, new_t = [], []
        for _ in range(3):  # interleaved, so both see the same machine load
            old_t += time_per_frame(old_fn, frames, FLAGS.repeats)
            new_t += time_per_frame(region_support, frames, FLAGS.repeats)
        old_fps, new_fps = len(old_t) / sum(old_t), len(new_t) / sum(new_t)
        print(
            f"against {FLAGS.baseline_rev} (same frames, interleaved, identical targets): "
            f"{old_fps:.1f} -> {new_fps:.1f} frames/s, {new_fps / old_fps:.2f}x"
        )

    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/region_support.py"))
