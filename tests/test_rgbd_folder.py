"""Your own RGB-D folder: the reader, its errors, resizing with intrinsics, the TFDS builder, and training on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfds_nyu import rgbd_frames
from tfds_nyu.rgbd_folder import Builder
from tfds_nyu.rgbd_frames import Camera, RgbdFolderError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL = os.path.join(ROOT, "..", "shared", "data", "real_rgbd")


def frame(h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 8.0, (h, w)).astype(np.float32)
    depth[:4, :4] = 0  # a sensor hole
    return rgb, depth


def folder(tmp_path, stems=("a", "b", "c"), **kwargs):
    for i, stem in enumerate(stems):
        rgbd_frames.write_frame(tmp_path, stem, *frame(seed=i), **kwargs)
    return tmp_path


def read(root, stem, depth_scale=1000.0):
    (f,) = [f for f in rgbd_frames.scan_folder(root) if f.stem == stem]
    return rgbd_frames.read_frame(f, depth_scale)


# ------------------------------------------------------------------ reading


def test_png_depth_round_trips_to_the_millimetre_and_holes_stay_holes(tmp_path):
    rgb, depth = frame()
    rgbd_frames.write_frame(tmp_path, "x", rgb, depth)
    got_rgb, got_depth, labels = read(tmp_path, "x")
    assert (got_rgb == rgb).all() and labels is None
    assert np.abs(got_depth - depth).max() <= 0.0005 + 1e-6
    assert (got_depth[:4, :4] == 0).all()


def test_depth_scale_is_applied(tmp_path):
    rgb, depth = frame()
    rgbd_frames.write_frame(tmp_path, "x", rgb, depth, depth_scale=5000)  # TUM's units
    assert np.abs(read(tmp_path, "x", depth_scale=5000)[1] - depth).max() <= 0.0001 + 1e-6
    assert np.allclose(read(tmp_path, "x", depth_scale=1000)[1], read(tmp_path, "x", 5000)[1] * 5, atol=1e-3)


def test_npy_depth_in_metres_with_nan_holes(tmp_path):
    rgb, depth = frame()
    depth[10, 10] = np.nan
    rgbd_frames.write_frame(tmp_path, "x", rgb, depth, depth_format="npy", labels=np.full(depth.shape, 3))
    _, got, labels = read(tmp_path, "x")
    assert got[10, 10] == 0 and np.allclose(got[20:, 20:], depth[20:, 20:])
    assert labels.dtype == np.uint16 and (labels == 3).all()


def test_jpg_rgb_is_read(tmp_path):
    rgb, depth = frame()
    rgbd_frames.write_frame(tmp_path, "x", rgb, depth, rgb_format="jpg")
    assert read(tmp_path, "x")[0].shape == rgb.shape


def test_a_depth_without_an_rgb_is_named(tmp_path):
    folder(tmp_path)
    os.remove(tmp_path / "rgb" / "b.png")
    with pytest.raises(RgbdFolderError, match=r"depth/b\.png: depth without an rgb"):
        rgbd_frames.scan_folder(tmp_path)


def test_an_rgb_without_a_depth_is_named(tmp_path):
    folder(tmp_path)
    os.remove(tmp_path / "depth" / "c.png")
    with pytest.raises(RgbdFolderError, match=r"rgb/c\.png: rgb without a depth"):
        rgbd_frames.scan_folder(tmp_path)


def test_an_8_bit_depth_is_named(tmp_path):
    folder(tmp_path)
    cv2.imwrite(str(tmp_path / "depth" / "a.png"), np.full((48, 64), 40, np.uint8))
    with pytest.raises(RgbdFolderError, match=r"depth/a\.png: depth PNGs must be single-channel 16-bit.*8-bit"):
        read(tmp_path, "a")


def test_sizes_that_differ_are_named(tmp_path):
    folder(tmp_path)
    rgb, _ = frame(40, 64)
    cv2.imwrite(str(tmp_path / "rgb" / "a.png"), rgb)
    with pytest.raises(RgbdFolderError, match=r"depth/a\.png: depth is 48x64 but .*rgb/a\.png is 40x64"):
        read(tmp_path, "a")


def test_an_unreadable_file_is_named(tmp_path):
    folder(tmp_path)
    data = (tmp_path / "rgb" / "b.png").read_bytes()
    (tmp_path / "rgb" / "b.png").write_bytes(data[:40])
    with pytest.raises(RgbdFolderError, match=r"rgb/b\.png: unreadable image"):
        read(tmp_path, "b")


def test_bad_cameras_json_is_named(tmp_path):
    folder(tmp_path)
    (tmp_path / "cameras.json").write_text('{"a": {"fx": "wide", "fy": 1, "cx": 1, "cy": 1}}')
    with pytest.raises(RgbdFolderError, match=r"cameras\.json: stem 'a'"):
        rgbd_frames.scan_folder(tmp_path)


# ------------------------------------------------------------------ splits


def test_split_from_subfolders(tmp_path):
    folder(tmp_path / "train", ("a", "b"))
    folder(tmp_path / "test", ("c",))
    frames = rgbd_frames.scan_folder(tmp_path)
    assert {(f.stem, f.split) for f in frames} == {("a", "train"), ("b", "train"), ("c", "test")}


def test_split_from_lists_and_their_errors(tmp_path):
    folder(tmp_path)
    (tmp_path / "train.txt").write_text("a\nc\n")
    (tmp_path / "test.txt").write_text("b\n")
    assert {f.stem: f.split for f in rgbd_frames.scan_folder(tmp_path)} == {"a": "train", "b": "test", "c": "train"}
    (tmp_path / "test.txt").write_text("b\nzz\n")
    with pytest.raises(RgbdFolderError, match=r"split files name stems with no frame: \['zz'\]"):
        rgbd_frames.scan_folder(tmp_path)


# ------------------------------------------------------------------ resizing with the intrinsics


def test_fit_to_size_keeps_3d_points_on_their_pixels():
    """Project 3-D points with the old intrinsics, mark them, fit to a new size: each mark must land
    where the new intrinsics project the same point."""
    h, w = 427, 561  # a cropped NYU frame
    cam = Camera(518.86, 519.47, 300.1, 210.3)
    rng = np.random.default_rng(1)
    depth = np.zeros((h, w), np.float32)
    uv = []
    for v in range(20, h - 20, 40):  # marks 40 px apart, so none overlaps another after scaling
        for u in range(20, w - 20, 40):
            z = float(rng.uniform(2, 5))
            depth[v - 1 : v + 2, u - 1 : u + 2] = z  # a 3x3 mark
            uv.append(((u - cam.cx) * z / cam.fx, (v - cam.cy) * z / cam.fy, z))  # the 3-D point behind it
    rgb = np.zeros((h, w, 3), np.uint8)
    _, out, _, new = rgbd_frames.fit_to_size(rgb, depth, None, cam, (480, 640))
    assert out.shape == (480, 640)
    s = 640 / 561  # covers the width; height 427 * s = 487.1 -> 488 rows, 4 cropped at the top
    assert new.fx == pytest.approx(cam.fx * s) and new.fy == pytest.approx(cam.fy * 488 / 427)
    checked = 0
    for x, y, z in uv:
        u, v = new.fx * x / z + new.cx, new.fy * y / z + new.cy
        if 2 <= u < 638 and 2 <= v < 478:
            assert out[round(v), round(u)] == pytest.approx(z), (u, v)
            checked += 1
    assert checked >= 100


def test_fit_to_size_downscales_and_crops_centre():
    rgb = np.zeros((720, 1280, 3), np.uint8)
    rgb[:, 640:] = 255  # right half white
    depth = np.ones((720, 1280), np.float32)
    out_rgb, out_depth, _, cam = rgbd_frames.fit_to_size(rgb, depth, None, Camera(1000, 1000, 639.5, 359.5), (96, 128))
    # scale = max(96/720, 128/1280) = 0.1333: 171x96, 21 px cropped from the left
    assert out_rgb.shape == (96, 128, 3) and out_depth.shape == (96, 128)
    assert cam.cx == pytest.approx(639.5 * 171 / 1280 + 0.5 * 171 / 1280 - 0.5 - 21, abs=1e-4)
    edge = np.flatnonzero(out_rgb[48, :, 0] > 127)[0]
    assert abs(edge - (640 * 171 / 1280 - 21)) <= 1


# ------------------------------------------------------------------ the builder


def build(manual, data_dir, config="slic"):
    builder = Builder(config=config, data_dir=str(data_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    return builder


def test_builder_on_frames_of_different_sizes(tmp_path):
    manual = tmp_path / "mine"
    for stem, (h, w) in {"phone": (192, 256), "nyu_crop": (427, 561), "wide": (180, 320), "tall": (200, 150)}.items():
        rgbd_frames.write_frame(manual, stem, *frame(h, w))
    rgbd_frames.write_cameras(manual, {"nyu_crop": Camera(518.86, 519.47, 300.0, 210.0)})
    config = Builder.builder_config_cls(name="small", height=96, width=128, region_mode="depth_only")
    builder = Builder(config=config, data_dir=str(tmp_path / "data"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    examples = {
        e["key"].decode(): e for e in tfds.as_numpy(builder.as_dataset(split="train+test", shuffle_files=False))
    }
    assert set(examples) == {"phone", "nyu_crop", "wide", "tall"}
    for e in examples.values():
        assert e["depth"].shape == (96, 128) and e["image"].shape == (96, 128, 3)
        assert e["source"].decode() == "rgbd_folder:depth_only"
        valid = e["depth"] > 0
        assert (e["regions"][valid] > 0).all() and (e["region_support"][valid] > 0).all()
    s = 128 / 561
    assert examples["nyu_crop"]["camera"][0] == pytest.approx(518.86 * s, rel=1e-4)
    assert (examples["phone"]["camera"] == 0).all()  # unknown intrinsics are zeros
    assert builder.info.metadata["region_mode"] == "depth_only"


def test_labels_config_refuses_frames_without_labels(tmp_path):
    manual = folder(tmp_path / "mine")
    with pytest.raises(RgbdFolderError, match=r"rgb/a\.png: no labels/a\.png, but config 'labels' needs labels"):
        build(manual, tmp_path / "data", "labels")


def test_no_manual_dir_is_a_clear_error(tmp_path):
    with pytest.raises(RgbdFolderError, match=r"rsn-build-dataset --dataset=rgbd_folder --manual_dir=DIR"):
        Builder(config="slic", data_dir=str(tmp_path / "data")).download_and_prepare()


def _real_or_skip():
    if not os.path.isdir(os.path.join(REAL, "rgb")):
        pytest.skip(f"the shared real RGB-D frames are absent ({REAL})")
    return os.path.abspath(REAL)


@pytest.fixture(scope="module")
def real_built(shared_root):
    """The real frames built as rgbd_folder/slic, once per test run (read only)."""
    from conftest import built_once

    real = _real_or_skip()
    return real, str(built_once(shared_root, "real_rgbd_slic", lambda d: build(real, d, "slic")))


@pytest.mark.slow
def test_the_real_frames_build_and_load_elsewhere_with_plain_tfds(real_built):
    real, data_dir = real_built
    path = os.path.join(data_dir, "rgbd_folder", "slic", "1.0.0")
    script = textwrap.dedent(
        f"""
        import json, sys
        import tensorflow_datasets as tfds
        builder = tfds.builder_from_directory({path!r})
        rows = {{}}
        for e in tfds.as_numpy(builder.as_dataset(split="train+test")):
            rows[e["key"].decode()] = [e["source"].decode(), [float(v) for v in e["camera"]], float(e["depth"].max())]
        ours = sorted(m for m in sys.modules if m.startswith(("rsn_tf", "tfds_nyu")))
        print(json.dumps({{"rows": rows, "ours": ours}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd="/", env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ours"] == []
    rows = result["rows"]
    assert len(rows) == 7 and {r[0] for r in rows.values()} == {"rgbd_folder:slic"}
    cameras = json.load(open(os.path.join(real, "cameras.json")))
    assert rows["tum"][1] == pytest.approx([cameras["tum"][k] for k in ("fx", "fy", "cx", "cy")])
    assert rows["sun"][1] == [0, 0, 0, 0]
    truth = cv2.imread(os.path.join(real, "depth", "tum.png"), cv2.IMREAD_UNCHANGED).max() / 1000
    assert rows["tum"][2] == pytest.approx(truth)


@pytest.mark.slow
def test_rsn_train_runs_two_steps_on_the_real_frames(real_built, tmp_path):
    from conftest import train_in_process

    real, data_dir = real_built
    argv = [
        "--dataset=rgbd_folder/slic",
        f"--data_dir={data_dir}",
        f"--manual_dir={real}",
        f"--model_dir={tmp_path / 'model'}",
        "--stage=joint",
        "--batch_size=2",
        "--epochs=1",
        "--steps_per_epoch=2",
        "--eval_batches=1",
        "--image_summaries=0",
        "--export=false",
    ]
    code, _, err = train_in_process(argv)
    assert code == 0, err[-3000:]
    metrics = json.load(open(tmp_path / "model" / "joint" / "metrics.json"))
    assert metrics["settings"]["dataset"] == "rgbd_folder/slic"
    assert metrics["training"]["steps"] == 2
    # Another folder into this data_dir is refused, and the refused run leaves the run dir's config as it was.
    config_before = (tmp_path / "model" / "config.yaml").read_text()
    other = tmp_path / "other"
    folder(other)
    code, _, err = train_in_process([f"--manual_dir={other}" if c.startswith("--manual_dir=") else c for c in argv])
    assert code != 0 and "was built from another folder" in err
    assert (tmp_path / "model" / "config.yaml").read_text() == config_before


@pytest.mark.slow
def test_rsn_evaluate_scores_a_constant_on_the_real_frames_as_computed_by_hand(real_built, tmp_path):
    from rsn_tf.cli import evaluate

    real, data_dir = real_built
    out = tmp_path / "eval"
    argv = ["--model=constant:2.5", "--dataset=rgbd_folder/slic", f"--data_dir={data_dir}", f"--manual_dir={real}"]
    assert evaluate.main([*argv, "--split=train+test", f"--out={out}", "--no_progress"]) == 0
    metrics = json.load(open(out / "metrics.json"))["metrics"]
    builder = tfds.builder("rgbd_folder/slic", data_dir=data_dir)
    per_image = []
    for e in tfds.as_numpy(builder.as_dataset(split="train+test")):
        gt = e["depth"][(e["depth"] > 1e-3) & (e["depth"] < 10)].astype(np.float64)
        per_image.append(np.mean(np.abs(gt - 2.5) / gt))
    assert len(per_image) == 7
    assert metrics["abs_rel"] == pytest.approx(np.mean(per_image), rel=1e-4)
