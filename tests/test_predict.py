"""The predict CLI: real photos through an exported model; PNG, .npy and a PLY that back-projects right."""

from __future__ import annotations

import glob
import json
import os

import cv2
import numpy as np
import pytest
from conftest import built_tiny_model

from rsn_tf.camera import back_project
from rsn_tf.cli.predict import main
from rsn_tf.depth_files import write_ply
from tfds_nyu.kinect_camera import intrinsics_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_PHOTOS = os.path.join(ROOT, "..", "shared", "data", "real_indoor")
needs_shared = pytest.mark.skipif(
    not os.path.isdir(REAL_PHOTOS), reason=f"the shared test data is absent ({REAL_PHOTOS})"
)


def read_ply(path: str) -> tuple[dict, np.ndarray]:
    data = open(path, "rb").read()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    assert header[0] == "ply" and header[1] == "format binary_little_endian 1.0"
    count = int(next(line for line in header if line.startswith("element vertex")).split()[-1])
    dtype = [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vertices = np.frombuffer(data[end:], dtype=dtype)
    assert len(vertices) == count
    return {"count": count}, vertices


def test_a_pixel_at_known_depth_back_projects_to_the_right_point(tmp_path):
    depth = np.zeros((480, 640), np.float32)
    depth[300, 500] = 2.0
    fx, fy, cx, cy = intrinsics_for(480, 640)
    assert (fx, fy, cx, cy) == (518.86, 519.47, 325.58, 253.74)
    points = back_project(depth, fx, fy, cx, cy)
    # By hand: x = 174.42 * 2 / 518.86 = 0.672320, y = 46.26 * 2 / 519.47 = 0.178105, z = 2.
    np.testing.assert_allclose(points[300, 500], [0.672320, 0.178105, 2.0], rtol=1e-5)
    colors = np.full((480, 640, 3), 7, np.uint8)
    colors[300, 500] = (255, 0, 10)
    n = write_ply(str(tmp_path / "one.ply"), points, colors)
    info, vertices = read_ply(str(tmp_path / "one.ply"))
    assert n == info["count"] == 1  # only the valid pixel
    assert tuple(vertices[0])[3:] == (255, 0, 10)
    np.testing.assert_allclose(
        [vertices[0]["x"], vertices[0]["y"], vertices[0]["z"]], [0.672320, 0.178105, 2.0], rtol=1e-5
    )


def test_intrinsics_scale_with_the_image_and_can_be_overridden():
    fx, fy, cx, cy = intrinsics_for(240, 320)
    assert fx == pytest.approx(259.43) and cy == pytest.approx(126.87)
    assert intrinsics_for(240, 320, fx=100.0)[0] == 100.0


def _export(model, target) -> None:
    from rsn_tf.serving.exporter import export_saved_model

    export_saved_model(model, str(target), "rsn")


@pytest.fixture(scope="module")
def exported(shared_root):
    """A tiny model's SavedModel, built once per test run (read only)."""
    return str(built_tiny_model(shared_root, "predict_export", _export) / "rsn" / "1")


@needs_shared
def test_cli_on_the_real_photos_writes_every_output(exported, tmp_path):
    assert main([REAL_PHOTOS, f"--model={exported}", f"--out={tmp_path}"]) == 0
    photos = sorted(glob.glob(os.path.join(REAL_PHOTOS, "*_image.png")))
    assert len(photos) == 3
    for photo in photos:
        stem = tmp_path / os.path.splitext(os.path.basename(photo))[0]
        png = cv2.imread(f"{stem}_depth.png", cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint16 and png.shape == (480, 640)
        depth = np.load(f"{stem}_depth.npy")
        assert depth.dtype == np.float32 and depth.shape == (480, 640)
        np.testing.assert_array_equal(png, np.clip(np.round(depth * 1000), 0, 65535).astype(np.uint16))
        color = cv2.imread(f"{stem}_depth_color.png")
        assert color.shape == (480, 640, 3) and color.dtype == np.uint8
        info, vertices = read_ply(f"{stem}.ply")
        assert info["count"] == 480 * 640  # every predicted depth is positive
        rgb = cv2.cvtColor(cv2.imread(photo), cv2.COLOR_BGR2RGB)
        assert tuple(vertices[0])[3:] == tuple(rgb[0, 0])  # row-major, coloured by the photo


def test_cli_errors_name_the_input(tmp_path, exported):
    assert main([str(tmp_path / "missing.jpg"), f"--model={exported}"]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty), f"--model={exported}"]) == 2


# ----------------------------------------------------------------------------- cameras


def test_back_projection_then_projection_gives_back_the_pixel_grid():
    from rsn_tf.camera import project

    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 9.0, (30, 40)).astype(np.float32)
    for k in [(518.86, 519.47, 325.58, 253.74), (35.0, 41.0, 19.5, 14.5)]:
        uv = project(back_project(depth, *k), *k)
        v, u = np.mgrid[0:30, 0:40]
        np.testing.assert_allclose(uv[..., 0], u, atol=1e-3)
        np.testing.assert_allclose(uv[..., 1], v, atol=1e-3)


def _photo_with_exif(path: str, focal_35mm: int | None, size=(60, 80)) -> None:
    from PIL import ExifTags, Image

    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    exif = Image.Exif()
    if focal_35mm:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.FocalLengthIn35mmFilm] = focal_35mm
    image.save(path, exif=exif, quality=95)


def test_intrinsics_come_from_flags_then_json_then_exif_then_kinect(tmp_path):
    from rsn_tf.camera import CameraError, resolve_intrinsics

    photo = str(tmp_path / "phone.jpg")
    _photo_with_exif(photo, 26)
    # EXIF: 26 mm over the 43.2666 mm full-frame diagonal; the 80x60 image's diagonal is 100 px.
    exif = resolve_intrinsics(60, 80, photo)
    assert exif.source == "exif:26mm"
    assert exif.fx == pytest.approx(26 * 100 / 43.266615, rel=1e-6) and exif.fy == exif.fx
    assert (exif.cx, exif.cy) == (39.5, 29.5)
    # A sidecar beats EXIF, and is scaled from the size it was measured at.
    (tmp_path / "phone.camera.json").write_text('{"fx": 120, "fy": 121, "cx": 80, "cy": 60, "width": 160}')
    sidecar = resolve_intrinsics(60, 80, photo)
    assert sidecar.source.startswith("json:") and (sidecar.fx, sidecar.cx) == (60.0, 40.0) and sidecar.fy == 121
    # Each axis by its own factor: measured at 160x240 (w x h), used at 80x60: x by 1/2, y by 1/4.
    (tmp_path / "phone.camera.json").write_text(
        '{"fx": 120, "fy": 121, "cx": 80, "cy": 60, "width": 160, "height": 240}'
    )
    both = resolve_intrinsics(60, 80, photo)
    assert (both.fx, both.fy, both.cx, both.cy) == (60.0, 30.25, 40.0, 15.0)
    # Flags beat both; a partial set overrides the next source's values.
    assert resolve_intrinsics(60, 80, photo, {"fx": 70.0}).source.startswith("flags+json:")
    full = resolve_intrinsics(60, 80, photo, {"fx": 1.0, "fy": 2.0, "cx": 3.0, "cy": 4.0})
    assert full.source == "flags" and full.k == (1.0, 2.0, 3.0, 4.0)
    # Nothing known: the Kinect, scaled, and it says so.
    plain = str(tmp_path / "plain.jpg")
    _photo_with_exif(plain, None)
    kinect = resolve_intrinsics(240, 320, plain)
    assert kinect.source == "kinect_default" and kinect.fx == pytest.approx(259.43)
    (tmp_path / "plain.camera.json").write_text('{"fx": -3, "fy": 1, "cx": 1, "cy": 1}')
    with pytest.raises(CameraError, match=r"plain.camera.json: field 'fx' must be a positive number"):
        resolve_intrinsics(60, 80, plain)


# ----------------------------------------------------------------------------- folders, calibration, confidence


@pytest.fixture(scope="module")
def exported_with_confidence(confidence_export):
    return confidence_export["saved_model"]


@needs_shared
def test_a_folder_with_a_corrupt_image_is_predicted_whole_and_the_bad_file_counted(
    exported_with_confidence, tmp_path, capsys
):
    photos = sorted(glob.glob(os.path.join(REAL_PHOTOS, "*_image.png")))
    folder = tmp_path / "in"
    (folder / "kitchen").mkdir(parents=True)
    for i, photo in enumerate(photos):
        small = cv2.resize(cv2.imread(photo), (160, 120), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / ("kitchen" if i == 0 else ".") / f"p{i}.png"), small)
    (folder / "broken.jpg").write_bytes(cv2.imencode(".jpg", small)[1].tobytes()[:200])  # truncated
    out = tmp_path / "out"
    code = main([str(folder), f"--model={exported_with_confidence}", f"--out={out}", "--confidence", "--no_progress"])
    captured = capsys.readouterr()
    assert code == 1  # something was skipped
    assert captured.err.count("warning: skipped") == 1 and "broken.jpg: not a readable image" in captured.err
    assert "Done: 3 images written" in captured.out and "1 skipped" in captured.out
    assert sorted(os.listdir(out)) == sorted(
        f"{stem}{suffix}"
        for stem in ("kitchen__p0", "p1", "p2")
        for suffix in (
            "_depth.png",
            "_depth_color.png",
            "_depth.npy",
            ".ply",
            "_camera.json",
            "_confidence.png",
            "_confidence.npy",
        )
    )  # complete outputs only: no partial file, nothing for the broken image
    confidence = np.load(out / "p1_confidence.npy")
    assert confidence.shape == (120, 160) and confidence.min() > 0 and confidence.max() <= 1
    png = cv2.imread(str(out / "p1_confidence.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(png, np.round(confidence * 255).astype(np.uint8))
    camera = json.loads((out / "p1_camera.json").read_text())
    assert camera["source"] == "kinect_default" and camera["units"] == "metres"
    assert camera["width"] == 160 and camera["fx"] == pytest.approx(518.86 / 4)
    assert camera["depth_png_metres_per_unit"] == 0.001 and camera["points"] == 120 * 160


@needs_shared
def test_one_known_distance_calibrates_the_prediction(exported, tmp_path, capsys):
    photo = sorted(glob.glob(os.path.join(REAL_PHOTOS, "*_image.png")))[0]
    plain, calibrated = tmp_path / "plain", tmp_path / "cal"
    assert main([photo, f"--model={exported}", f"--out={plain}", "--no_progress"]) == 0
    assert main([photo, f"--model={exported}", f"--out={calibrated}", "--known=400,300,3.25", "--no_progress"]) == 0
    stem = os.path.splitext(os.path.basename(photo))[0]
    before = np.load(plain / f"{stem}_depth.npy")
    after = np.load(calibrated / f"{stem}_depth.npy")
    assert after[300, 400] == pytest.approx(3.25, rel=1e-5)  # row 300, column 400
    np.testing.assert_allclose(after, before * (3.25 / before[300, 400]), rtol=1e-5)
    fit = json.loads((calibrated / f"{stem}_calibration.json").read_text())
    assert fit["scale"] == pytest.approx(3.25 / before[300, 400], rel=1e-5) and fit["points"] == 1
    assert "calibrated x" in capsys.readouterr().out
    # One point cannot fix a shift; a pixel outside the image is refused; both name the flag.
    assert main([photo, f"--model={exported}", f"--out={tmp_path}", "--known=1,1,2", "--calibrate=scale_shift"]) == 1
    assert "needs at least 2 known points" in capsys.readouterr().err
    assert main([photo, f"--model={exported}", f"--out={tmp_path}", "--known=9999,1,2"]) == 1
    assert "--known='9999,1,2': pixel (x=9999, y=1) is outside the 640x480 image" in capsys.readouterr().err


def test_confidence_needs_a_model_that_gives_it(exported, tmp_path, capsys):
    photo = str(tmp_path / "p.jpg")
    _photo_with_exif(photo, 28)
    assert main([photo, f"--model={exported}", f"--out={tmp_path / 'o'}", "--confidence"]) == 2
    assert "export it with rsn-export --include_confidence" in capsys.readouterr().err
    assert main([photo, f"--model={exported}", f"--out={tmp_path / 'o'}", "--no_progress"]) == 0
    assert "intrinsics: exif:28mm" in capsys.readouterr().out


# ----------------------------------------------------------------------------- videos


def _write_video(path: str, frames: list[np.ndarray], fourcc: str = "MJPG") -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), 5.0, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()


def _frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(2)
    return [cv2.GaussianBlur(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), (7, 7), 2) for _ in range(n)]


def test_a_video_gives_a_depth_video_and_16_bit_frames(exported, tmp_path):
    video = str(tmp_path / "walk.avi")
    _write_video(video, _frames(6))
    out = tmp_path / "out"
    assert main([video, f"--model={exported}", f"--out={out}", "--png_frames", "--no_progress"]) == 0
    capture = cv2.VideoCapture(str(out / "walk_depth.mp4"))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 6
    frames = sorted(os.listdir(out / "walk_frames"))
    assert frames == [f"{i:06d}.png" for i in range(6)]
    png = cv2.imread(str(out / "walk_frames" / "000003.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape == (48, 64) and png.min() > 0
    assert not [f for f in os.listdir(out) if "partial" in f]


def test_a_truncated_video_keeps_its_good_frames_and_says_where_it_broke(exported, tmp_path, capsys):
    video = tmp_path / "cut.avi"
    _write_video(str(video), _frames(10))
    data = video.read_bytes()
    video.write_bytes(data[: int(len(data) * 0.6)])  # the copy stopped part-way
    out = tmp_path / "out"
    assert main([str(video), f"--model={exported}", f"--out={out}", "--no_progress"]) == 1
    err = capsys.readouterr().err
    assert "warning: skipped" in err and "cut.avi frames" in err
    capture = cv2.VideoCapture(str(out / "cut_depth.mp4"))
    kept = 0
    while capture.read()[0]:
        kept += 1
    assert 0 < kept < 10


def test_temporal_smoothing_averages_log_depth_by_hand(tmp_path):
    from rsn_tf.depth_sources import DepthSource
    from rsn_tf.prediction import PredictOptions, predict_video

    video = str(tmp_path / "flicker.avi")
    _write_video(video, _frames(3))
    answers = iter([1.0, 4.0, 4.0])  # a flickering model: 1 m, then 4 m, then 4 m

    def predict(batch):  # called with batches of frames (batch_size 2 below: frames 1-2, then 3)
        return {"depth": np.stack([np.full((48, 64), next(answers), np.float32) for _ in batch["image"]])}

    source = DepthSource("flicker", "flicker", predict)
    options = PredictOptions(
        out_dir=str(tmp_path / "o"), batch_size=2, png_frames=True, temporal_smoothing=0.5, progress=False
    )
    summary = predict_video(video, source, options)
    assert summary.frames == 3 and not summary.skipped
    mm = [
        cv2.imread(str(tmp_path / "o" / "flicker_frames" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)[0, 0]
        for i in range(3)
    ]
    # ln d'_1 = 0; ln d'_2 = 0.5 * 0 + 0.5 ln 4 -> 2 m; ln d'_3 = 0.5 ln 2 + 0.5 ln 4 -> 2^1.5 = 2.828 m.
    assert list(mm) == [1000, 2000, 2828]


def test_a_folder_calibrates_each_image_from_its_own_sparse_depth(exported, tmp_path, capsys):
    folder, sparse = tmp_path / "in", tmp_path / "lidar"
    folder.mkdir(), sparse.mkdir()
    for name in ("a", "b"):
        _photo_with_exif(str(folder / f"{name}.jpg"), None, size=(30, 40))
    readings = np.zeros((15, 20), np.uint16)  # half resolution: pixel (7, 9) -> (15, 19) at 30x40
    readings[7, 9] = 2750
    cv2.imwrite(str(sparse / "a.png"), readings)  # none for b.jpg
    out = tmp_path / "out"
    assert main([str(folder), f"--model={exported}", f"--out={out}", f"--sparse_depth={sparse}", "--no_progress"]) == 1
    err = capsys.readouterr().err
    assert "skipped" in err and "b.jpg" in err and "no b.png or b.npy" in err
    assert np.load(out / "a_depth.npy")[15, 19] == pytest.approx(2.75, rel=1e-5)
    assert not (out / "b_depth.npy").exists()
    assert json.loads((out / "a_calibration.json").read_text())["known_from"].endswith("a.png")
