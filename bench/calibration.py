"""Metric calibration on the synthetic test split: a deliberately mis-scaled model, fixed from 1, 3 or 100 points.

The README demo's model is wrapped so that it predicts 0.6 x its depth: what a model trained
on one camera does on another (the room reads 40 % too near). For every test image, known
depths are drawn at random valid pixels of the ground truth, in two conditions:

* exact: the readings are the ground truth (a tape measure);
* sensor-like: 3 % Gaussian noise on every reading and 20 % of the readings wrong by a
  factor 0.5-0.67 or 1.5-2 (multipath, glass, a missed edge), as a cheap ToF or LiDAR gives.

Each image is calibrated on its own points (rsn_tf.calibration: RANSAC, inlier threshold
10 %) and scored with the demo's protocol (per-image abs_rel and δ1, valid 1e-3 < gt < 10 m,
no crop). Baselines from the same run: the model as trained (scale right by construction),
and per-image median scaling against the full ground truth (what evaluation-time
alignment gives, an upper bound that no deployment has).

    python bench/calibration.py [--model=runs/rsn] [--factor=0.6] [--max_images=0]
"""

from __future__ import annotations

import os

import numpy as np
from absl import flags

from rsn_tf.cli import common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FLAGS = common.new_flag_values()
flags.DEFINE_string("model", "runs/rsn", "A rsn-train --model_dir (the README's demo).", flag_values=FLAGS)
flags.DEFINE_float("factor", 0.6, "The deliberate scale error of the model.", flag_values=FLAGS)
flags.DEFINE_integer("max_images", 0, "Only the first N test images (0 = all).", flag_values=FLAGS)
flags.DEFINE_integer("seed", 0, "Seed of the sampled points and noise.", flag_values=FLAGS)


def _readings(
    gt: np.ndarray, valid: np.ndarray, n: int, sensor: bool, rng
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols = np.nonzero(valid)
    pick = rng.choice(len(rows), size=min(n, len(rows)), replace=False)
    rows, cols = rows[pick], cols[pick]
    metres = gt[rows, cols].astype(np.float64)
    if sensor:
        metres = metres * (1 + rng.normal(0, 0.03, len(metres)))
        wrong = rng.random(len(metres)) < 0.2
        metres[wrong] *= rng.choice([0.5, 1.5], wrong.sum()) * rng.uniform(1.0, 1.333, wrong.sum())
    return rows, cols, metres


def main(positionals: list[str]) -> int:
    import demo_split
    import tensorflow as tf

    from rsn_tf.calibration import CalibrationError, KnownDepths, calibrate
    from rsn_tf.metrics import VALID_DEPTH_RANGE_M, MetricConfig, compute_depth_metrics, valid_mask

    model, stage, rgb, gt, keys = demo_split.load(FLAGS.model, max_images=FLAGS.max_images or None)
    pred = np.concatenate(
        [
            model(tf.constant(rgb[i : i + 8], tf.float32), training=False)["depth"].numpy()[..., 0]
            for i in range(0, len(rgb), 8)
        ]
    )
    wrong = pred * FLAGS.factor
    config = MetricConfig()
    rows_out = []

    def score(name: str, maps: np.ndarray, failed: int = 0) -> None:
        m = compute_depth_metrics(maps, gt, config)
        rows_out.append((name, m["abs_rel"], m["delta1"], failed))

    score(f"model as trained ({stage})", pred)
    score(f"mis-scaled x{FLAGS.factor:g} (before calibration)", wrong)
    score("median scaling on the full ground truth (upper bound)", compute_median_scaled(wrong, gt, config))
    for sensor in (False, True):
        for fit_model, counts in (("scale", (1, 3, 100)), ("scale_shift", (3, 100))):
            for n in counts:
                rng = np.random.default_rng(FLAGS.seed)
                out, failed = [], 0
                for i in range(len(gt)):
                    valid = valid_mask(gt[i], config)
                    r, c, metres = _readings(gt[i], valid, n, sensor, rng)
                    try:
                        calibrated, _ = calibrate(wrong[i], KnownDepths(r, c, metres), model=fit_model)
                    except CalibrationError:
                        calibrated, failed = wrong[i], failed + 1
                    out.append(calibrated)
                label = "sensor-like" if sensor else "exact"
                score(f"{fit_model} from {n} point{'s' if n > 1 else ''}, {label}", np.stack(out), failed)
    print(
        f"{len(gt)} synthetic test images at {gt.shape[1]}x{gt.shape[2]}; protocol: per-image mean, "
        f"valid ({VALID_DEPTH_RANGE_M[0]:g}, {VALID_DEPTH_RANGE_M[1]:g}) m, no crop, no alignment"
    )
    base = rows_out[0][1]
    print("| depth map | abs_rel | δ1 | abs_rel / model as trained | fits refused |")
    print("|---|---|---|---|---|")
    for name, abs_rel, delta1, failed in rows_out:
        print(f"| {name} | {abs_rel:.4f} | {delta1:.4f} | {abs_rel / base:.2f}x | {failed} |")
    return 0


def compute_median_scaled(maps: np.ndarray, gt: np.ndarray, config) -> np.ndarray:
    from rsn_tf.metrics import align_prediction, valid_mask

    return np.stack([align_prediction(p, g, valid_mask(g, config), "median") for p, g in zip(maps, gt)])


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/calibration.py"))
