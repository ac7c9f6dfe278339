"""Point clouds of a sequence's held-out frames against the sensor's own: the median 3-D error.

For each model, ``rsn-predict`` (its ``main``, in process) runs on the held-out block of an RGB-D
sequence (the last N frames in file-name order, the rule ``rgbd_folder`` holds out by) with the
sequence's intrinsics (``cameras.json``) and writes one ``.ply`` per frame. Each point of a
``.ply`` is compared with the sensor's depth at the same pixel, back-projected through the same
intrinsics: the error is the Euclidean distance between the two points in metres. Pixels without
a sensor reading (0, holes) are left out; the depth PNGs are registered to the colour image.

``--figure=PATH`` also draws three held-out frames (the block's first, middle and last): RGB,
the sensor's depth and each model's prediction, on one colour scale in metres.

Reported per model: the median over every valid pixel of every held-out frame, the mean of the
per-frame medians, and the 90th percentile. ``--constant=D`` adds a baseline that puts every
pixel at D metres (e.g. the training split's median), back-projected the same way.

    python bench/point_clouds.py --models=runs/rsn,runs/kitchen \
        [--labels="demo model,fine-tuned"] [--folder=../shared/data/real_sequence_7scenes] \
        [--holdout_last=30] [--constant=1.868] [--figure=docs/fine_tuning.png]
"""

from __future__ import annotations

import json
import os
import tempfile

import cv2
import numpy as np
from absl import flags

from rsn_tf.cli import common

FLAGS = common.new_flag_values()
flags.DEFINE_list("models", ["runs/rsn"], "Models to compare (anything rsn-predict --model takes).", flag_values=FLAGS)
flags.DEFINE_string(
    "folder",
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "real_sequence_7scenes"),
    "RGB-D sequence folder: rgb/, depth/ (uint16 mm, registered to rgb), cameras.json.",
    flag_values=FLAGS,
)
flags.DEFINE_integer("holdout_last", 30, "The held-out block: the last N frames in file-name order.", flag_values=FLAGS)
flags.DEFINE_list("labels", None, "A name per model, for the table and figure (default: paths).", flag_values=FLAGS)
flags.DEFINE_string("figure", None, "Also a PNG: 3 held-out frames, RGB, sensor depth, each model.", flag_values=FLAGS)
flags.DEFINE_float("constant", None, "Also score a constant depth (metres) everywhere.", flag_values=FLAGS)
flags.DEFINE_string("workdir", None, "Where the predictions go (default: a new temporary dir).", flag_values=FLAGS)

MM_PER_METRE = 1000.0  # the sequence's depth PNGs are millimetres (its README)


def read_ply(path: str) -> np.ndarray:
    """(N, 3) float32 vertices of a binary little-endian PLY with float x, y, z first."""
    with open(path, "rb") as fh:
        data = fh.read()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    if "format binary_little_endian 1.0" not in header:
        raise ValueError(f"{path}: not a binary little-endian PLY")
    count = next(int(line.split()[2]) for line in header if line.startswith("element vertex"))
    fields = [line.split() for line in header if line.startswith("property")]
    types = {"float": "<f4", "uchar": "u1"}
    dtype = np.dtype([(f[2], types[f[1]]) for f in fields])
    vertex = np.frombuffer(data, dtype=dtype, count=count, offset=end)
    return np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1)


def sequence_camera(folder: str, stems: list[str]) -> dict[str, float]:
    """The one pinhole camera of the held-out frames (an error if they have several)."""
    cameras = json.load(open(os.path.join(folder, "cameras.json")))
    missing = [s for s in stems if s not in cameras]
    if missing:
        raise common.CliError(f"{folder}/cameras.json: no intrinsics for {missing[:3]}")
    ks = {tuple(cameras[s][k] for k in ("fx", "fy", "cx", "cy")) for s in stems}
    if len(ks) != 1:
        raise common.CliError(f"{folder}/cameras.json: the held-out frames have {len(ks)} cameras; give one")
    return dict(zip(("fx", "fy", "cx", "cy"), ks.pop()))


def sensor_points(depth_m: np.ndarray, k: dict[str, float]) -> np.ndarray:
    """(H, W, 3): pixel (u, v) at depth z is ((u - cx) z / fx, (v - cy) z / fy, z)."""
    v, u = np.mgrid[0 : depth_m.shape[0], 0 : depth_m.shape[1]].astype(np.float64)
    z = depth_m.astype(np.float64)
    return np.stack([(u - k["cx"]) * z / k["fx"], (v - k["cy"]) * z / k["fy"], z], axis=-1)


def frame_errors(points: np.ndarray, depth_m: np.ndarray, k: dict[str, float], where: str) -> np.ndarray:
    """Distances (m) between predicted points (in pixel order) and the sensor's, at valid pixels."""
    h, w = depth_m.shape
    if points.shape[0] != h * w:
        raise ValueError(f"{where}: {points.shape[0]} points, expected one per pixel of the {w}x{h} frame")
    valid = depth_m.reshape(-1) > 0
    truth = sensor_points(depth_m, k).reshape(-1, 3)
    return np.linalg.norm(points.astype(np.float64)[valid] - truth[valid], axis=1)


def summary(per_frame: list[np.ndarray]) -> dict[str, float]:
    every = np.concatenate(per_frame)
    return {
        "median_m": float(np.median(every)),
        "mean_of_frame_medians_m": float(np.mean([np.median(e) for e in per_frame])),
        "p90_m": float(np.percentile(every, 90)),
        "points": int(every.size),
    }


def draw(path: str, folder: str, stems: list[str], depths: dict, predicted: dict[str, str]) -> None:
    """RGB, sensor depth and each model's depth for ``stems``: one colour scale (the sensor's range)."""
    from rsn_tf.evaluation.figures import comparison_grid, save_png

    rgbs = [cv2.imread(os.path.join(folder, "rgb", f"{s}.png"))[..., ::-1] for s in stems]
    maps = {
        label: [cv2.resize(np.load(os.path.join(out, f"{s}_depth.npy")), depths[s].shape[::-1]) for s in stems]
        for label, out in predicted.items()
    }
    save_png(path, comparison_grid(rgbs, [depths[s] for s in stems], maps))


def main(positionals: list[str]) -> int:
    if positionals:
        raise common.CliError(f"unexpected argument(s) {positionals}")
    from rsn_tf.cli import predict
    from tfds_nyu.rgbd_frames import sequence_holdout

    folder = os.path.abspath(FLAGS.folder)
    workdir = FLAGS.workdir or tempfile.mkdtemp(prefix="rsn_point_clouds_")
    stems = [os.path.splitext(f)[0] for f in os.listdir(os.path.join(folder, "rgb")) if f.endswith(".png")]
    held_out = sequence_holdout(stems, holdout_last=FLAGS.holdout_last, where=f"{folder}: ")
    k = sequence_camera(folder, held_out)
    inputs = os.path.join(workdir, "held_out_rgb")  # links, not copies, of the held-out frames
    os.makedirs(inputs, exist_ok=True)
    for stem in held_out:
        link = os.path.join(inputs, f"{stem}.png")
        if not os.path.lexists(link):
            os.symlink(os.path.join(folder, "rgb", f"{stem}.png"), link)
    camera_file = os.path.join(workdir, "camera.json")
    json.dump(k, open(camera_file, "w"))
    depths = {}
    for stem in held_out:
        raw = cv2.imread(os.path.join(folder, "depth", f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        depths[stem] = raw.astype(np.float64) / MM_PER_METRE

    labels = FLAGS.labels or FLAGS.models
    if len(labels) != len(FLAGS.models):
        raise common.CliError(f"--labels: {len(labels)} names for {len(FLAGS.models)} models")
    results: dict[str, dict[str, float]] = {}
    predicted: dict[str, str] = {}
    for index, (label, model) in enumerate(zip(labels, FLAGS.models)):
        out = os.path.join(workdir, f"model_{index}")
        if predict.main([inputs, f"--model={model}", f"--out={out}", f"--camera={camera_file}", "--no_progress"]):
            return 1
        per_frame = []
        for stem in held_out:
            camera = json.load(open(os.path.join(out, f"{stem}_camera.json")))
            depth = depths[stem]
            if (camera["height"], camera["width"]) != depth.shape:  # predicted at another size: compare there
                depth = cv2.resize(depth, (camera["width"], camera["height"]), interpolation=cv2.INTER_NEAREST)
            per_frame.append(frame_errors(read_ply(os.path.join(out, f"{stem}.ply")), depth, camera, stem))
        results[label] = summary(per_frame)
        predicted[label] = out
    if FLAGS.constant is not None:
        per_frame = []
        for stem in held_out:
            depth = depths[stem]
            points = sensor_points(np.full(depth.shape, FLAGS.constant), k).reshape(-1, 3)
            per_frame.append(frame_errors(points, depth, k, stem))
        results[f"constant {FLAGS.constant:g} m"] = summary(per_frame)

    print(
        f"\n{folder}: the last {len(held_out)} frames ({held_out[0]} ... {held_out[-1]}), intrinsics "
        f"fx {k['fx']:g} fy {k['fy']:g} cx {k['cx']:g} cy {k['cy']:g}; error = distance of each predicted point "
        "to the sensor's back-projected point at the same pixel, valid sensor pixels only"
    )
    print("| model | median 3-D error (m) | mean of per-frame medians (m) | 90th percentile (m) | points |")
    print("| --- | --- | --- | --- | --- |")
    for label, r in results.items():
        print(
            f"| {label} | {r['median_m']:.3f} | {r['mean_of_frame_medians_m']:.3f} | {r['p90_m']:.3f} | "
            f"{r['points']:,} |"
        )
    json.dump(results, open(os.path.join(workdir, "point_clouds.json"), "w"), indent=1)
    if FLAGS.figure:
        draw(FLAGS.figure, folder, [held_out[0], held_out[len(held_out) // 2], held_out[-1]], depths, predicted)
        print(f"figure: {FLAGS.figure}")
    print(f"\nwritten: {workdir}/point_clouds.json, the .ply files under {workdir}/model_*/")
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/point_clouds.py"))
