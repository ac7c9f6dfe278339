"""rsn-predict's throughput on a folder and on a short video at 240x320, against the model alone.

Inputs, made once in a temporary dir from the real photos of ../shared/data/real_indoor
(resized to 240x320, mirrored and shifted so that no two frames are equal): a folder of
``--frames`` PNGs, and an MJPG .avi video of the same frames.

Rows, all with the same depth source (the README demo's run dir by default):

* model alone (baseline): ``source.predict`` on the frames held in memory, in batches;
* folder: ``predict_images``: read, predict, write the 16-bit PNG, colour PNG, .npy,
  .ply and camera JSON of every image;
* folder + confidence: the same with the confidence map (a second, mirrored pass);
* video: ``predict_video``: decode, predict, write the colourised depth mp4;
* video + 16-bit frames: the same with ``--png_frames``.

Each row is run ``--repeats`` times, rows interleaved so they share the machine's noise; the
median time is reported as frames/s and as a ratio to the same run's model-alone figure.

    python bench/predict_throughput.py [--model=runs/rsn] [--frames=48] [--batch_size=4] [--repeats=3]
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time

import cv2
import numpy as np
from absl import flags

from rsn_tf.cli import common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FLAGS = common.new_flag_values()
flags.DEFINE_string("model", "runs/rsn", "Depth source: a run dir, .keras or SavedModel.", flag_values=FLAGS)
flags.DEFINE_integer("frames", 48, "Frames in the folder and in the video.", flag_values=FLAGS)
flags.DEFINE_integer("batch_size", 4, "Batch size of every row.", flag_values=FLAGS)
flags.DEFINE_integer("repeats", 3, "Runs per row.", flag_values=FLAGS)
flags.DEFINE_string(
    "photos",
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "real_indoor"),
    "Real photos to make the frames from.",
    flag_values=FLAGS,
)


def _frames(count: int) -> list[np.ndarray]:
    photos = sorted(f for f in os.listdir(FLAGS.photos) if f.endswith((".png", ".jpg")))
    base = [cv2.resize(cv2.imread(os.path.join(FLAGS.photos, f)), (360, 270), cv2.INTER_AREA) for f in photos]
    frames = []
    for i in range(count):
        image = base[i % len(base)]
        if (i // len(base)) % 2:
            image = image[:, ::-1]
        dy, dx = (i * 7) % 30, (i * 13) % 40
        frames.append(np.ascontiguousarray(image[dy : dy + 240, dx : dx + 320]))
    return frames


def main(positionals: list[str]) -> int:
    from rsn_tf.depth_sources import load_source
    from rsn_tf.prediction import PredictOptions, predict_images, predict_video

    work = tempfile.mkdtemp(prefix="rsn_predict_bench_")
    frames = _frames(FLAGS.frames)
    folder = os.path.join(work, "folder")
    os.makedirs(folder)
    paths = []
    for i, frame in enumerate(frames):
        paths.append(os.path.join(folder, f"{i:04d}.png"))
        cv2.imwrite(paths[-1], frame)
    video = os.path.join(work, "clip.avi")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (320, 240))
    for frame in frames:
        writer.write(frame)
    writer.release()
    rgb = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames])

    source = load_source(FLAGS.model)
    with_confidence = load_source(FLAGS.model, confidence="flip")
    b = FLAGS.batch_size

    def options(tag: str, **kwargs) -> PredictOptions:
        out = os.path.join(work, tag)
        shutil.rmtree(out, ignore_errors=True)
        return PredictOptions(out_dir=out, batch_size=b, progress=False, **kwargs)

    rows = {
        "model alone (baseline)": lambda: [source.predict({"image": rgb[i : i + b]}) for i in range(0, len(rgb), b)],
        "folder: read, predict, write 5 files + .ply": lambda: predict_images(paths, source, options("f"), folder),
        "folder + confidence map": lambda: predict_images(
            paths, with_confidence, options("fc", confidence=True), folder
        ),
        "video: decode, predict, write depth mp4": lambda: predict_video(video, source, options("v")),
        "video + 16-bit PNG frames": lambda: predict_video(video, source, options("vp", png_frames=True)),
    }
    for run in rows.values():  # warm-up: tracing, first file writes
        run()
    times = {name: [] for name in rows}
    for _ in range(FLAGS.repeats):
        for name, run in rows.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    base = len(frames) / statistics.median(times["model alone (baseline)"])
    print(
        f"{len(frames)} frames at 240x320, batch {b}, model {FLAGS.model}, "
        f"median of {FLAGS.repeats} runs, {os.cpu_count()} CPUs"
    )
    print("| row | frames/s | vs model alone |")
    print("|---|---|---|")
    for name, values in times.items():
        fps = len(frames) / statistics.median(values)
        print(f"| {name} | {fps:.1f} | {fps / base:.2f}x |")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    common.exit_process(common.run(main, FLAGS, __doc__, program="bench/predict_throughput.py"))
