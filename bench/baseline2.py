"""Baseline2 ("analysis of ground truth"): the region support scored as if it were the depth.

The paper reports RMSE 1.29 m and δ1 0.615 for it on NYU. Our Algorithm 1 gives every valid
pixel a region, so its region support is close to the depth. The printed listing leaves
pixels at R = 0 (unlabelled pixels, bin edges, the top bin of every cut piece, small bins),
and a 0 prediction is clamped to 1e-3 m by the standard protocol, which is a huge error.
This scores both on the same frames with the field's protocol (1e-3 < gt < 10 m, per image,
then averaged): ``region_support`` and ``printed_region_support`` (the printed gaps,
vectorised; it equals the literal ``paper_reference`` on blob-shaped classes, tested).

Frames: the labelled real NYU frame of ``../shared/data/real_rgbd`` (real labels, real
sensor depth with holes); the 50 real NYU label maps with the smooth synthetic depth of
bench/region_support.py; synthetic rooms (labels and Kinect-like raw depth); and the whole
test split of each ``--datasets`` entry, as built (labels and the in-painted depth, full size).

    python bench/baseline2.py [--synthetic_frames=24] [--datasets=nyu_region_support/synthetic_hard]
"""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np
from absl import flags

from rsn_tf.cli import common
from rsn_tf.metrics import compute_depth_metrics
from tfds_nyu.region_support import printed_region_support, region_support

sys.path.insert(0, os.path.dirname(__file__))
from label_free_region_support import label_maps_with_smooth_depth, real_labelled_frame, synthetic_frames  # noqa: E402

FLAGS = common.new_flag_values()
flags.DEFINE_integer("synthetic_frames", 24, "Synthetic frames.", flag_values=FLAGS)
flags.DEFINE_list(
    "datasets",
    ["nyu_region_support/synthetic", "nyu_region_support/synthetic_hard"],
    "Built datasets whose whole test split is scored (built first if missing).",
    flag_values=FLAGS,
)
flags.DEFINE_string("data_dir", None, "TFDS data dir of --datasets.", flag_values=FLAGS)


def test_split(name: str):
    import tensorflow_datasets as tfds

    from rsn_tf.data import prepare_builder

    builder = prepare_builder(name, FLAGS.data_dir)
    return [
        (
            None,
            ex["depth"][..., 0] if ex["depth"].ndim == 3 else ex["depth"],
            ex["label"][..., 0] if ex["label"].ndim == 3 else ex["label"],
        )
        for ex in tfds.as_numpy(builder.as_dataset(split="test"))
    ]


def main(positionals: list[str]) -> int:
    sets = {
        "real NYU frame 551 (real labels, sensor depth)": real_labelled_frame(),
        "50 real NYU label maps + smooth depth": label_maps_with_smooth_depth(),
        f"{FLAGS.synthetic_frames} synthetic frames": synthetic_frames(FLAGS.synthetic_frames),
    }
    for name in FLAGS.datasets:
        frames = test_split(name)
        sets[f"{name}, whole test split ({len(frames)} frames)"] = frames
    print("| frames | Algorithm 1 | valid pixels left at R = 0 | abs_rel | RMSE (m) | δ1 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, frames in sets.items():
        for label, fn in (("region_support (ours)", region_support), ("printed (gaps kept)", printed_region_support)):
            preds, gts, zeros = [], [], []
            for _, depth, labels in frames:
                r = fn(labels, depth).region_support
                valid = (depth > 1e-3) & (depth < 10)
                zeros.append(float(np.mean(r[valid] == 0)))
                preds.append(r)
                gts.append(depth)
            m = compute_depth_metrics(np.stack(preds), np.stack(gts))
            print(
                f"| {name} | {label} | {100 * np.mean(zeros):.1f} % | {m['abs_rel']:.3f} | {m['rmse']:.3f} | "
                f"{m['delta1']:.3f} |"
            )
    print("| paper, NYU test set | printed | (not reported) | – | 1.29 | 0.615 |")
    return 0


if __name__ == "__main__":
    cv2.setNumThreads(1)
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/baseline2.py"))
