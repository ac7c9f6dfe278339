"""Region support without labels: each label-free mode against the labelled region support.

For every frame and mode, Algorithm 1 runs on the mode's semantic map S and we report:

* regions per frame (after Algorithm 1);
* RMSE of R against D (how well region means describe the depth; lower = finer regions);
* agreement with the labelled R: RMSE between the mode's R and the R made from the labels;
* milliseconds to make S (Algorithm 1's own time is in bench/region_support.py).

Frame sets:

* the labelled real NYU frame of ``../shared/data/real_rgbd`` (``nyu_test_0551``: sensor
  depth with holes, 13-class labels);
* the 50 real NYU label maps, each paired with the smooth synthetic depth of
  bench/region_support.py. They come without RGB, so only ``depth_only`` can be scored there;
* synthetic rooms (``tfds_nyu.synthetic``): image, labels and depth with Kinect-like holes.

    python bench/label_free_region_support.py [--synthetic_frames=24]
"""

from __future__ import annotations

import glob
import os
import statistics
import sys
import time

import cv2
import numpy as np
from absl import flags

from rsn_tf.cli import common
from tfds_nyu import label_free
from tfds_nyu.region_support import region_support

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")

FLAGS = common.new_flag_values()
flags.DEFINE_integer("synthetic_frames", 24, "Synthetic frames (2 poses per scene).", flag_values=FLAGS)


def real_labelled_frame():
    root = os.path.join(SHARED, "real_rgbd")
    stem = "nyu_test_0551"
    image = cv2.imread(os.path.join(root, "rgb", f"{stem}.png"))[..., ::-1]
    depth = cv2.imread(os.path.join(root, "depth", f"{stem}.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000
    labels = cv2.imread(os.path.join(root, "labels", f"{stem}.png"), cv2.IMREAD_UNCHANGED)
    return [(np.ascontiguousarray(image), depth, labels)]


def label_maps_with_smooth_depth():
    sys.path.insert(0, os.path.dirname(__file__))
    from region_support import smooth_depth  # the pairing bench/region_support.py uses

    files = sorted(glob.glob(os.path.join(SHARED, "nyu_v2_test_labels13", "*.png")))
    frames = []
    for f in files:
        labels = cv2.imread(f, cv2.IMREAD_UNCHANGED)
        frames.append((None, smooth_depth(labels), labels))
    return frames


def synthetic_frames(n: int):
    from tfds_nyu import synthetic

    frames = []
    for i in range(n):
        frame = synthetic.render(synthetic.make_scene(i // 2, seed=5), i % 2)
        frames.append((frame.image, frame.raw_depth, frame.labels))
    return frames


def score(frames, mode: str) -> dict | None:
    regions, fit, agree, ms = [], [], [], []
    for image, depth, labels in frames:
        if image is None and mode not in ("labels", "depth_only"):
            return None
        valid = depth > 0
        reference = region_support(labels, depth).region_support
        t0 = time.perf_counter()
        semantic, _ = label_free.semantic_map(mode, image, depth, labels)
        ms.append(1e3 * (time.perf_counter() - t0))
        targets = region_support(semantic, depth)
        r, d = targets.region_support[valid], depth[valid]
        regions.append(targets.num_regions)
        fit.append(float(np.sqrt(np.mean((r - d) ** 2))))
        agree.append(float(np.sqrt(np.mean((r - reference[valid]) ** 2))))
    return {
        "regions": statistics.median(regions),
        "rmse_d": statistics.mean(fit),
        "agree": statistics.mean(agree),
        "ms": statistics.median(ms),
    }


def main(positionals: list[str]) -> int:
    cv2.setNumThreads(1)
    sets = {
        "real NYU frame 551 (labelled, sensor depth)": real_labelled_frame(),
        "50 real NYU label maps + smooth depth": label_maps_with_smooth_depth(),
        f"{FLAGS.synthetic_frames} synthetic frames": synthetic_frames(FLAGS.synthetic_frames),
    }
    print("| frames | mode | regions/frame (median) | RMSE R vs D (m) | RMSE R vs labelled R (m) | ms to make S |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, frames in sets.items():
        for mode in label_free.REGION_MODES:
            row = score(frames, mode)
            if row is None:
                print(f"| {name} | {mode} | n/a (no RGB) | | | |")
                continue
            print(
                f"| {name} | {mode} | {row['regions']:.0f} | {row['rmse_d']:.3f} | {row['agree']:.3f} | "
                f"{row['ms']:.0f} |"
            )
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/label_free_region_support.py"))
