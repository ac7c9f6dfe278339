"""Real NYU against the two synthetic worlds: the statistics the hard world was set from.

Real frames (``../shared/data``):
  * the 50 real NYU v2 test label maps (13 classes) and the labelled frame ``nyu_test_0551``:
    classes per frame, largest-class share, unlabelled share;
  * ``nyu_test_0551`` with its real sensor depth: Algorithm 1's regions and region sizes, and
    the colour-centroid classifier (the only real frame with RGB, labels and depth together);
  * the 7 frames of ``real_rgbd`` (5 NYU, TUM, SUN): depth percentiles, hole fraction and the
    luminance-depth rank correlation.
Synthetic frames: ``--frames`` frames of each world (``tfds_nyu.synthetic`` and
``tfds_nyu.synthetic_hard``), rendered at 480x640 by the builders' own code, class names
mapped to NYU's 13 classes, statistics on the raw (holed) depth as for the real frames.

Each cell is the median over frames with the 5th-95th percentile range (depth and region
size: over the pooled pixels / regions). Writes ``--out``.json and a figure (``--figure``).

    python bench/world_statistics.py [--frames=40] [--figure=docs/world_statistics.png]
"""

from __future__ import annotations

import glob
import json
import os
import tempfile

import cv2
import numpy as np
from absl import flags

from rsn_tf.cli import common
from rsn_tf.evaluation.world_statistics import NYU13, frame_statistics, summarise, to_nyu13

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")

FLAGS = common.new_flag_values()
flags.DEFINE_integer("frames", 40, "Frames rendered per synthetic world.", flag_values=FLAGS)
flags.DEFINE_integer("seed", 7, "Seed of the rendered scenes (not the datasets' seed).", flag_values=FLAGS)
flags.DEFINE_string(
    "out", None, "Where the summary JSON goes (default: a new file in a new temporary dir).", flag_values=FLAGS
)
flags.DEFINE_string("figure", "", "Write the histograms figure (PNG) here.", flag_values=FLAGS)
flags.DEFINE_string("shared", SHARED, "The shared data folder.", flag_values=FLAGS)

ROWS = (
    ("classes", "classes per frame (NYU 13)", "{:.0f}"),
    ("largest_class", "share of labelled pixels in the largest class", "{:.2f}"),
    ("unlabelled", "unlabelled share", "{:.2f}"),
    ("regions", "Algorithm 1 regions per frame", "{:.0f}"),
    ("region_size", "region size (pixels)", "{:.0f}"),
    ("depth", "valid depth (m), pooled pixels", "{:.2f}"),
    ("hole_fraction", "raw-depth hole fraction", "{:.2f}"),
    ("colour_accuracy", "class from colour alone (nearest centroid)", "{:.2f}"),
    ("luminance_depth", "luminance-depth rank correlation", "{:+.2f}"),
)


def _read(path: str, flags_: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    image = cv2.imread(path, flags_)
    if image is None:
        raise SystemExit(f"cannot read {path}")
    return image


def real_frames(shared: str):
    """(image, raw depth, 13-class labels) triples, each part None where the real data lack it."""
    frames = []
    for path in sorted(glob.glob(os.path.join(shared, "nyu_v2_test_labels13", "*.png"))):
        frames.append((None, None, _read(path)))
    rgbd = os.path.join(shared, "real_rgbd")
    for path in sorted(glob.glob(os.path.join(rgbd, "depth", "*.png"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        image = np.ascontiguousarray(_read(os.path.join(rgbd, "rgb", f"{stem}.png"), cv2.IMREAD_COLOR)[..., ::-1])
        depth = _read(path).astype(np.float32) / 1000.0
        label_path = os.path.join(rgbd, "labels", f"{stem}.png")
        labels = _read(label_path).astype(np.uint8) if os.path.exists(label_path) else None
        frames.append((image, depth, labels))
    if not frames:
        raise SystemExit(f"no real frames under {os.path.abspath(shared)}")
    return frames


def synthetic_frames(world: str, count: int, seed: int):
    from tfds_nyu import synthetic

    make, render, v2_names, _ = synthetic._world(world)
    for i in range(count):
        frame = render(make(i // 2, seed), i % 2)
        yield frame.image, frame.raw_depth, to_nyu13(frame.labels, frame.label_names, known=v2_names)


def _cell(summary: dict, key: str, fmt: str) -> str:
    value = summary.get(key)
    if value is None:
        return "–"
    lo, mid, hi = value
    return f"{fmt.format(mid)} [{fmt.format(lo)}, {fmt.format(hi)}]"


def table(results: dict[str, dict]) -> str:
    lines = ["| statistic | " + " | ".join(results) + " |", "|---" * (len(results) + 1) + "|"]
    for key, title, fmt in ROWS:
        lines.append(f"| {title} | " + " | ".join(_cell(s, key, fmt) for s in results.values()) + " |")
    return "\n".join(lines)


def figure(raw: dict[str, list]) -> np.ndarray:
    """Three panels: depth density, region-size density (log10 pixels), classes per frame."""
    from rsn_tf.evaluation.figures import line_plot

    panels = []
    bins = {
        "depth": (np.linspace(0, 10, 41), "depth (m)", "density of valid pixels"),
        "region_size": (np.linspace(0, 5.5, 23), "log10 region size (pixels)", "density of regions"),
        "classes": (np.arange(0.5, len(NYU13) + 1.5), "classes per frame (NYU 13)", "share of frames"),
    }
    for key, (edges, x_label, title) in bins.items():
        curves = {}
        for name, values in raw.items():
            v = np.asarray(values[key], np.float64)
            if key == "region_size":
                v = np.log10(np.maximum(v, 1))
            if v.size == 0:
                continue
            hist, _ = np.histogram(v, bins=edges)
            curves[name] = hist / max(1, hist.sum())
        panels.append(line_plot((edges[:-1] + edges[1:]) / 2, curves, title, x_label, "share"))
    return np.concatenate(panels, axis=1)


def main(positionals: list[str]) -> int:
    if FLAGS.out is None:
        FLAGS.out = os.path.join(tempfile.mkdtemp(prefix="rsn_world_statistics_"), "world_statistics.json")
    sets = {
        "real NYU": real_frames(FLAGS.shared),
        "synthetic": list(synthetic_frames("simple", FLAGS.frames, FLAGS.seed)),
        "synthetic_hard": list(synthetic_frames("hard", FLAGS.frames, FLAGS.seed)),
    }
    results, raw = {}, {}
    for name, frames in sets.items():
        rng = np.random.default_rng(0)
        stats = [frame_statistics(image, depth, labels, rng=rng) for image, depth, labels in frames]
        results[name] = summarise(stats)
        raw[name] = {
            "depth": np.concatenate([s.depth for s in stats if s.depth is not None]),
            "region_size": np.concatenate([s.region_sizes for s in stats if s.region_sizes is not None] or [[]]),
            "classes": [s.classes for s in stats if s.classes is not None],
        }
    counts = {name: len(frames) for name, frames in sets.items()}
    print(f"frames: {counts} (real: 50 label maps + 7 RGB-D frames, one of them labelled)\n")
    print(table(results))
    with open(FLAGS.out, "w") as fh:
        json.dump(results, fh, indent=2)
    print(f"\nwrote {FLAGS.out}")
    if FLAGS.figure:
        from rsn_tf.evaluation.figures import save_png

        size = save_png(FLAGS.figure, figure(raw))
        print(f"wrote {FLAGS.figure} ({size} bytes)")
    return 0


if __name__ == "__main__":
    cv2.setNumThreads(1)
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/world_statistics.py"))
