"""How well the confidence map ranks the pixels by their real error: sparsification curves and AUSE.

On the synthetic test split (and ``--split=train``, where the default was chosen), with the
README demo's model: the uncertainty of rsn_tf/confidence.py from each choice of signals
(flip disagreement, the refinement-iteration spread, both), the flip disagreement in metres
(times the depth: RMSE ranks errors in metres), the predicted depth alone (a prior: far
pixels err more in metres), and a random ranking (the baseline: no information). AUSE is the area
between a ranking's sparsification curve and the oracle's (the pixels removed by their
true error), per image then averaged, over removed fractions 0-0.98; lower is better and 0
is perfect. Valid pixels: 1e-3 < gt < 10 m, no crop.

Writes docs/sparsification.png (the RMSE curves) and docs/trust_triptych.png (image, depth,
confidence and error of one test frame).

    python bench/confidence.py [--model=runs/rsn] [--split=test] [--max_images=0] [--frame=0] [--docs=docs]
"""

from __future__ import annotations

import os

import numpy as np
from absl import flags

from rsn_tf.cli import common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FLAGS = common.new_flag_values()
flags.DEFINE_string("model", "runs/rsn", "A rsn-train --model_dir (the README's demo).", flag_values=FLAGS)
flags.DEFINE_string("split", "test", "Split (train: where the default signals were chosen).", flag_values=FLAGS)
flags.DEFINE_integer("max_images", 0, "Only the first N images of the split (0 = all).", flag_values=FLAGS)
flags.DEFINE_integer("frame", 0, "The test frame of the triptych.", flag_values=FLAGS)
flags.DEFINE_string("docs", "docs", "Where the figures go.", flag_values=FLAGS)


def main(positionals: list[str]) -> int:
    import demo_split
    import tensorflow as tf

    from rsn_tf.confidence import confidence_from_uncertainty, predict_with_confidence
    from rsn_tf.evaluation.figures import line_plot, save_png, trust_triptych
    from rsn_tf.evaluation.sparsification import SparsificationCurves
    from rsn_tf.metrics import VALID_DEPTH_RANGE_M, MetricConfig, valid_mask

    model, stage, rgb, gt, keys = demo_split.load(FLAGS.model, FLAGS.split, FLAGS.max_images or None)
    names = {"flip": "flip disagreement (default)", "iterations": "iteration spread", "both": "flip + iterations"}
    signals = {name: [] for name in names.values()}
    depth = []
    for i in range(0, len(rgb), 8):
        x = tf.constant(rgb[i : i + 8], tf.float32)
        for choice, name in names.items():
            out = predict_with_confidence(model, x, choice)
            signals[name].append(out["uncertainty"].numpy()[..., 0])
        depth.append(out["depth"].numpy()[..., 0])
    depth = np.concatenate(depth)
    signals = {k: np.concatenate(v) for k, v in signals.items()}
    first = names["flip"]
    signals["flip disagreement x depth (metres)"] = signals[first] * depth
    signals["predicted depth alone (a prior)"] = depth
    config = MetricConfig()
    results = {}
    for metric in ("rmse", "abs_rel"):
        for name, uncertainty in signals.items():
            curves = SparsificationCurves(metric)
            for p, g, u in zip(depth, gt, uncertainty):
                # Predictions are clamped as the metrics clamp them.
                curves.update(np.clip(p, *VALID_DEPTH_RANGE_M), g, u, valid_mask(g, config))
            results[(metric, name)] = curves.result()
    print(f"{len(gt)} synthetic {FLAGS.split} images at {gt.shape[1]}x{gt.shape[2]}, model {FLAGS.model} ({stage})")
    print("| uncertainty | AUSE-RMSE (m) | vs random | AUSE-abs_rel | vs random |")
    print("|---|---|---|---|---|")
    for name in signals:
        r, a = results[("rmse", name)], results[("abs_rel", name)]
        print(
            f"| {name} | {r['ause']:.4f} | {r['ause'] / r['ause_random']:.2f}x | {a['ause']:.4f} | "
            f"{a['ause'] / a['ause_random']:.2f}x |"
        )
    r, a = results[("rmse", first)], results[("abs_rel", first)]
    print(f"| random ranking (baseline) | {r['ause_random']:.4f} | 1.00x | {a['ause_random']:.4f} | 1.00x |")
    print("| oracle (true error) | 0 | 0 | 0 | 0 |")
    if FLAGS.split != "test":
        return 0
    os.makedirs(FLAGS.docs, exist_ok=True)
    curves = {
        "confidence (flip disagreement)": r["curve"],
        "random ranking": r["random"],
        "oracle (true error)": r["oracle"],
    }
    plot = line_plot(
        r["fractions"], curves, f"Sparsification, RMSE, {len(gt)} synthetic test images", "fraction removed", "RMSE (m)"
    )
    path = os.path.join(FLAGS.docs, "sparsification.png")
    print("wrote", path, save_png(path, plot), "bytes")
    i = FLAGS.frame
    confidence = confidence_from_uncertainty(signals[first][i]).numpy()
    figure = trust_triptych(rgb[i], depth[i], confidence, gt[i], width=256)
    path = os.path.join(FLAGS.docs, "trust_triptych.png")
    print("wrote", path, save_png(path, figure), "bytes", f"(test frame {keys[i]})")
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/confidence.py"))
