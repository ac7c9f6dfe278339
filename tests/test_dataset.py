"""The nyu_region_support TFDS dataset: builder, NYU file layout, splits, bad input, loading elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap

import h5py
import numpy as np
import pytest
import scipy.io
import tensorflow_datasets as tfds

from tfds_nyu import splits, synthetic
from tfds_nyu.nyu_mat import V1_FILENAME, V2_FILENAME, NyuFormatError, NyuLabeledMat
from tfds_nyu.nyu_region_support import Builder
from tfds_nyu.nyu_region_support.nyu_region_support_dataset_builder import (
    NyuRegionSupportConfig,
    merge_class_names,
)

SHARED_SPLITS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "nyu_depth_v2_splits.mat")


# The builder's committed dummy data: tiny NYU-layout files made by the project's own writer
# (tfds_nyu/nyu_region_support/dummy_data_generation.py). 5 v2 frames, 6 v1 frames.
DUMMY_DIR = os.path.join(os.path.dirname(os.path.abspath(sys.modules[Builder.__module__].__file__)), "dummy_data")
needs_shared = pytest.mark.skipif(
    not os.path.exists(SHARED_SPLITS), reason=f"the shared test data is absent ({SHARED_SPLITS})"
)


def scenes_of(path: str) -> list[str]:
    """Scene names read straight from the file with h5py (independent of the reader)."""
    with h5py.File(path, "r") as f:
        return ["".join(map(chr, np.asarray(f[ref][()]).ravel())) for ref in np.asarray(f["scenes"][()]).ravel()]


def expected_counts(sources, rule) -> dict[str, int]:
    if rule == "official":
        mat = scipy.io.loadmat(os.path.join(DUMMY_DIR, "splits.mat"))
        return {"train": mat["trainNdxs"].size, "test": mat["testNdxs"].size}
    scenes = []
    for s in sources:
        scenes += scenes_of(os.path.join(DUMMY_DIR, V2_FILENAME if s == "v2" else V1_FILENAME))
    is_test = splits.scene_aware_split(scenes)
    return {"train": int((~is_test).sum()), "test": int(is_test.sum())}


class _BuilderTest:
    """Shared settings; a mixin, so that pytest does not collect it as a test case itself."""

    DATASET_CLASS = Builder
    EXAMPLE_DIR = DUMMY_DIR
    SKIP_CHECKSUMS = True  # the NYU server is unreachable here: no checksums can be recorded


class V2ConfigTest(_BuilderTest, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["v2"]
    SPLITS = expected_counts(("v2",), "official")


class V1ConfigTest(_BuilderTest, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["v1"]
    SPLITS = expected_counts(("v1",), "scene_aware")


class MergedConfigTest(_BuilderTest, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = ["merged"]
    SPLITS = expected_counts(("v2", "v1"), "scene_aware")


SMALL_SYNTHETIC = NyuRegionSupportConfig(
    name="synthetic_small",
    description="the synthetic config at test size (12 frames)",
    sources=("v2", "v1"),
    split_rule="scene_aware",
    synthetic_frames=(5, 7),
    synthetic_seed=11,
)


class SyntheticConfigTest(_BuilderTest, tfds.testing.DatasetBuilderTestCase):
    BUILDER_CONFIG_NAMES_TO_TEST = [SMALL_SYNTHETIC]
    SPLITS = {"train": 10, "test": 2}  # checked by hand below in test_synthetic_split_by_hand


def test_synthetic_split_by_hand():
    with tempfile.TemporaryDirectory() as d:
        paths = synthetic.generate(d, 5, 7, seed=11)
        scenes = scenes_of(str(paths["v2"])) + scenes_of(str(paths["v1"]))
    # 12 frames; scenes with one frame go to test whole, others send max(1, round(n*p)) frames.
    counts = {s: scenes.count(s) for s in dict.fromkeys(scenes)}
    assert sum(counts.values()) == 12
    is_test = splits.scene_aware_split(scenes)
    assert int(is_test.sum()) == SyntheticConfigTest.SPLITS["test"], counts


# ------------------------------------------------------------------ the NYU file layout


def test_dummy_data_files_have_the_exact_nyu_layout():
    with h5py.File(os.path.join(DUMMY_DIR, V2_FILENAME), "r") as f:
        assert {
            "#refs#",
            "#subsystem#",
            "accelData",
            "depths",
            "images",
            "instances",
            "labels",
            "names",
            "namesToIds",
            "rawDepthFilenames",
            "rawDepths",
            "rawRgbFilenames",
            "sceneTypes",
            "scenes",
        } == set(f.keys())
        assert f["images"].shape == (5, 3, 640, 480) and f["images"].dtype == np.uint8
        assert f["depths"].shape == (5, 640, 480) and f["depths"].dtype == np.float32
        assert f["labels"].dtype == np.uint16 and f["instances"].dtype == np.uint8
        assert f["names"].shape == (1, len(synthetic.V2_NAMES)) and f["names"].dtype == h5py.ref_dtype
        ref = f["names"][0, 0]
        assert f[ref][()].dtype == np.uint16 and f[ref].shape[1] == 1
        assert f[ref][()].flatten().astype(np.uint16).tobytes().decode("utf-16-le") == synthetic.V2_NAMES[0]
        assert f["images"].attrs["MATLAB_class"] == b"uint8"
    with h5py.File(os.path.join(DUMMY_DIR, V1_FILENAME), "r") as f:
        assert "instances" not in f and "sceneTypes" not in f and "rawRgbFilenames" not in f
    with open(os.path.join(DUMMY_DIR, V2_FILENAME), "rb") as fh:
        assert fh.read(19) == b"MATLAB 7.3 MAT-file"


def test_reader_gives_hxw_frames_matching_a_direct_transposed_read():
    with (
        NyuLabeledMat(os.path.join(DUMMY_DIR, V2_FILENAME), "v2") as mat,
        h5py.File(os.path.join(DUMMY_DIR, V2_FILENAME), "r") as f,
    ):
        frame = mat.frame(4)
        np.testing.assert_array_equal(frame.image, f["images"][4].transpose(2, 1, 0))
        np.testing.assert_array_equal(frame.depth, f["depths"][4].T)
        assert frame.image.shape == (480, 640, 3) and frame.depth.shape == (480, 640)
        assert 0.3 <= frame.depth.min() and frame.depth.max() <= 10.0
        assert mat.names == list(synthetic.V2_NAMES)


def test_synthetic_generation_is_deterministic(tmp_path):
    a = synthetic.render(synthetic.make_scene(2, seed=5), pose=1, height=48, width=64)
    b = synthetic.render(synthetic.make_scene(2, seed=5), pose=1, height=48, width=64)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.depth, b.depth)
    c = synthetic.render(synthetic.make_scene(2, seed=5), pose=2, height=48, width=64)
    assert not np.array_equal(a.depth, c.depth)  # another pose of the same room


def test_depth_is_camera_z_distance_every_pixel_lands_on_the_empty_rooms_walls():
    """NYU's depth is the camera-z distance, not the ray length: back-projecting each pixel through
    the Kinect intrinsics with its depth as z must land exactly on one of the room's six planes."""
    import zlib

    from tfds_nyu.kinect_camera import intrinsics_for
    from tfds_nyu.synthetic import simple

    w, d, h = 4.0, 6.0, 3.0
    scene = synthetic.Scene("empty", "office", (w, d, h), (), (2.0, 3.0, 2.9), 0)
    height, width = 48, 64
    frame = synthetic.render(scene, 0, height, width)
    # The camera pose of that frame (the renderer's own draw from the same seed).
    rng = np.random.default_rng([scene.seed, zlib.crc32(scene.name.encode()), 0])
    origin, right, down, forward = simple._camera(rng, scene)
    fx, fy, cx, cy = intrinsics_for(height, width)
    v, u = np.mgrid[0:height, 0:width]
    x_cam, y_cam = (u + 0.5 - cx) / fx, (v + 0.5 - cy) / fy
    z = frame.depth.astype(np.float64)
    points = origin + z[..., None] * (x_cam[..., None] * right + y_cam[..., None] * down + forward)
    to_plane = np.min(
        np.abs(
            np.stack(
                [
                    points[..., 0],
                    points[..., 0] - w,
                    points[..., 1],
                    points[..., 1] - d,
                    points[..., 2],
                    points[..., 2] - h,
                ],
                -1,
            )
        ),
        axis=-1,
    )
    assert (frame.depth > 0).all()
    assert to_plane.max() < 5e-3, to_plane.max()  # a ray-length depth would miss by up to ~0.5 m here


def test_merge_class_names_by_name():
    names, luts = merge_class_names({"v1": ["Wall", "floor", "blinds"], "v2": ["floor", "wall", "lamp"]})
    assert names == ["unlabeled", "floor", "wall", "lamp", "blinds"]  # v2 ids are kept
    np.testing.assert_array_equal(luts["v2"], [0, 1, 2, 3])
    np.testing.assert_array_equal(luts["v1"], [0, 2, 1, 4])  # case-insensitive 'Wall' -> wall


# ------------------------------------------------------------------ splits


@needs_shared
def test_real_official_split_file_is_parsed():
    train, test = splits.read_official_split(SHARED_SPLITS, num_frames=1449)
    assert len(train) == 795 and len(test) == 654
    assert list(train[:5]) == [2, 3, 4, 5, 6] and list(test[:3]) == [0, 1, 8]  # 1-based 3.. and 1, 2, 9
    assert np.union1d(train, test).size == 1449


def test_split_file_errors_name_the_field(tmp_path):
    bad = tmp_path / "splits.mat"
    scipy.io.savemat(bad, {"trainNdxs": np.array([[1], [2]], np.uint16)})
    with pytest.raises(ValueError, match="missing field 'testNdxs'"):
        splits.read_official_split(bad)
    scipy.io.savemat(bad, {"trainNdxs": np.array([[1], [2]]), "testNdxs": np.array([[2]])})
    with pytest.raises(ValueError, match="overlap"):
        splits.read_official_split(bad)
    with pytest.raises(ValueError, match="refers to frame 2"):
        splits.read_official_split(tmp_path / "splits.mat", num_frames=1)


def test_scene_aware_split_rules():
    scenes = ["a"] * 10 + ["b"] + ["c"] * 4 + ["d"] + ["e"] * 30
    is_test = splits.scene_aware_split(scenes)
    by_scene = {s: [t for t, name in zip(is_test, scenes) if name == s] for s in "abcde"}
    assert all(by_scene["b"]) and all(by_scene["d"])  # single-frame scenes: test whole
    for s in "ace":  # many frames: some test, some train
        assert any(by_scene[s]) and not all(by_scene[s])
    np.testing.assert_array_equal(is_test, splits.scene_aware_split(list(scenes)))  # deterministic


def test_scene_aware_split_reproduces_the_papers_proportions_at_nyu_scale():
    # 478 scenes over 3747 frames, as the paper's merge: it finds 3264 / 483 (12.9 % test).
    rng = np.random.default_rng(0)
    sizes = np.concatenate([rng.integers(1, 6, 420), rng.integers(20, 60, 58)])
    sizes[-1] += 3747 - sizes.sum()
    scenes = [f"s{i}" for i, n in enumerate(sizes) for _ in range(n)]
    assert len(scenes) == 3747
    test = int(splits.scene_aware_split(scenes).sum())
    assert abs(test - 483) <= 5, test


# ------------------------------------------------------------------ bad input


@pytest.fixture
def small_v2(tmp_path):
    paths = synthetic.generate(tmp_path / "src", v2_frames=3, v1_frames=0, size=(24, 32), seed=1)
    return paths["v2"]


def test_truncated_file_names_the_file(small_v2, tmp_path):
    data = small_v2.read_bytes()
    cut = tmp_path / V2_FILENAME
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(NyuFormatError, match=rf"{cut}.*(truncated|corrupt)"):
        with NyuLabeledMat(cut, "v2", expected_size=None) as mat:
            for _frame in mat.frames():
                pass


def test_missing_field_and_wrong_shape_are_named(small_v2):
    with h5py.File(small_v2, "a") as f:
        del f["depths"]
    with pytest.raises(NyuFormatError, match=r"missing field 'depths'"):
        NyuLabeledMat(small_v2, "v2", expected_size=None)
    with h5py.File(small_v2, "a") as f:
        f.create_dataset("depths", data=np.ones((3, 30, 24), np.float32))
    with pytest.raises(NyuFormatError, match=r"'depths' should have h5py shape \(3, 32, 24\).*got \(3, 30, 24\)"):
        NyuLabeledMat(small_v2, "v2", expected_size=None)


def test_wrong_size_and_wrong_version_are_named(small_v2, tmp_path):
    with pytest.raises(NyuFormatError, match="24x32 frames, expected 480x640"):
        NyuLabeledMat(small_v2, "v2")
    with pytest.raises(NyuFormatError, match="this is an NYU Depth v2 file"):
        NyuLabeledMat(small_v2, "v1", expected_size=None)
    v5 = tmp_path / "v5.mat"
    scipy.io.savemat(v5, {"images": np.zeros((2, 2))})
    with pytest.raises(NyuFormatError, match="MATLAB 5.0"):
        NyuLabeledMat(v5, "v2")


def test_labels_beyond_the_class_table_are_named(small_v2):
    with h5py.File(small_v2, "a") as f:
        f["labels"][1, 0, 0] = 999
    with NyuLabeledMat(small_v2, "v2", expected_size=None) as mat:
        with pytest.raises(NyuFormatError, match=r"'labels' of frame 1 has class id 999"):
            mat.frame(1)


def _build(config: str, manual_dir, data_dir):
    builder = Builder(config=config, data_dir=str(data_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
    return builder


def test_corrupt_file_leaves_no_dataset_that_looks_complete(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    src = os.path.join(DUMMY_DIR, V2_FILENAME)
    data = open(src, "rb").read()
    (manual / V2_FILENAME).write_bytes(data[: len(data) // 3])
    (manual / "splits.mat").write_bytes(open(os.path.join(DUMMY_DIR, "splits.mat"), "rb").read())
    with pytest.raises(NyuFormatError, match=V2_FILENAME):
        _build("v2", manual, tmp_path / "data")
    assert not list((tmp_path / "data").rglob("dataset_info.json"))
    assert not Builder(config="v2", data_dir=str(tmp_path / "data")).is_prepared()


def _copy_dummy(manual) -> None:
    manual.mkdir()
    for name in (V2_FILENAME, "splits.mat"):
        (manual / name).write_bytes(open(os.path.join(DUMMY_DIR, name), "rb").read())


def test_frames_without_valid_depth_are_skipped_and_counted(tmp_path):
    manual = tmp_path / "manual"
    _copy_dummy(manual)
    with h5py.File(manual / V2_FILENAME, "a") as f:
        f["depths"][2] = 0.0  # no reading anywhere: nothing to learn from
        f["depths"][4, :100, :] = 0.0  # partly without readings: kept, 0 = no reading
    builder = _build("v2", manual, tmp_path / "data")
    counts = expected_counts(("v2",), "official")
    total = sum(s.num_examples for s in builder.info.splits.values())
    assert total == sum(counts.values()) - 1
    assert sum(builder.info.metadata["skipped_frames"].values()) == 1
    for ex in builder.as_dataset(split="train").concatenate(builder.as_dataset(split="test")):
        if ex["key"].numpy() == b"v2_00004":
            assert (ex["depth"].numpy()[:, :100] == 0).all() and (ex["region_support"].numpy()[:, :100] == 0).all()


@pytest.mark.parametrize(
    "frame, corrupt, message",
    [
        (2, lambda f: f["depths"].__setitem__((2, slice(0, 10)), np.nan), r"frame 2 .*field 'depths': 4800 NaN"),
        (3, lambda f: f["depths"].__setitem__((3, 0, 0), -1.0), r"frame 3 .*field 'depths': 1 negative"),
        (1, lambda f: f["depths"].__setitem__((1, 5, 5), np.inf), r"frame 1 .*field 'depths': 1 infinite"),
        (4, lambda f: f["labels"].__setitem__((4, 0, 0), 999), r"'labels' of frame 4 has class id 999"),
    ],
)
def test_a_corrupt_frame_fails_the_build_naming_it_or_is_skipped_and_counted(tmp_path, frame, corrupt, message):
    from tfds_nyu.examples import BadFrameError

    manual = tmp_path / "manual"
    _copy_dummy(manual)
    with h5py.File(manual / V2_FILENAME, "a") as f:
        corrupt(f)
    with pytest.raises((BadFrameError, NyuFormatError), match=rf"{V2_FILENAME}.*{message}"):
        _build("v2", manual, tmp_path / "strict")
    assert not Builder(config="v2", data_dir=str(tmp_path / "strict")).is_prepared()  # nothing half-built
    builder = Builder(config="v2", data_dir=str(tmp_path / "lenient"), skip_bad_frames=True)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    counts = expected_counts(("v2",), "official")
    assert sum(s.num_examples for s in builder.info.splits.values()) == sum(counts.values()) - 1
    assert sum(builder.info.metadata["skipped_frames"].values()) == 1
    keys = {ex["key"].numpy() for split in ("train", "test") for ex in builder.as_dataset(split=split)}
    assert f"v2_{frame:05d}".encode() not in keys


# ------------------------------------------------------------------ loading elsewhere


def test_loading_elsewhere_without_this_project(tmp_path):
    data_dir = tmp_path / "data"
    builder = _build("v2", DUMMY_DIR, data_dir)
    counts = {k: v.num_examples for k, v in builder.info.splits.items()}
    script = textwrap.dedent(
        f"""
        import json, sys
        import tensorflow_datasets as tfds
        b = tfds.builder_from_directory({str(data_dir / "nyu_region_support" / "v2" / str(Builder.VERSION))!r})
        ex = next(iter(b.as_dataset(split="train")))
        ds = tfds.load("nyu_region_support/v2", data_dir={str(data_dir)!r}, split="test")
        names = b.info.metadata["class_names"] if b.info.metadata else None
        print(json.dumps({{
            "train": b.info.splits["train"].num_examples,
            "test": sum(1 for _ in ds),
            "keys": sorted(ex.keys()),
            "region_support_shape": list(ex["region_support"].shape),
            "class_names": names,
            "imported_project": any(m.split(".")[0] in ("rsn_tf", "tfds_nyu") for m in sys.modules),
        }}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["train"] == counts["train"] and out["test"] == counts["test"]
    assert out["keys"] == ["depth", "image", "key", "label", "region_support", "regions", "scene", "source"]
    assert out["region_support_shape"] == [480, 640]
    assert out["class_names"][0] == "unlabeled" and "wall" in out["class_names"]
    assert out["imported_project"] is False


def test_parallel_rendering_writes_the_same_files_as_sequential(tmp_path):
    one = synthetic.generate(tmp_path / "one", v2_frames=9, v1_frames=0, size=(24, 32), seed=2, workers=1)
    two = synthetic.generate(tmp_path / "two", v2_frames=9, v1_frames=0, size=(24, 32), seed=2, workers=2)
    with h5py.File(one["v2"], "r") as a, h5py.File(two["v2"], "r") as b:
        for field in ("images", "depths", "labels", "instances", "rawDepths"):
            np.testing.assert_array_equal(a[field][()], b[field][()], err_msg=field)
    assert scenes_of(str(one["v2"])) == scenes_of(str(two["v2"]))


# ------------------------------------------------------------------ builds that end

# A synthetic config big enough (12 frames) for the renderer to use its worker pool. Printed
# once by the script: a build whose workers re-ran the caller's script would print it again,
# or never finish.
BUILD_SCRIPT = textwrap.dedent(
    """
    import tensorflow_datasets as tfds
    from tfds_nyu.nyu_region_support.nyu_region_support_dataset_builder import Builder, NyuRegionSupportConfig

    print("SCRIPT STARTED", flush=True)
    config = NyuRegionSupportConfig(name="synthetic_tiny", sources=("v2", "v1"), split_rule="scene_aware",
                                    synthetic_frames=(6, 6), synthetic_seed=4)
    builder = Builder(config=config, data_dir={data_dir!r})
    builder.download_and_prepare()
    print("BUILT", sum(s.num_examples for s in builder.info.splits.values()), flush=True)
    """
)


def _run_build(tmp_path, how: str) -> subprocess.CompletedProcess:
    script = BUILD_SCRIPT.format(data_dir=str(tmp_path / "data"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))}
    if how == "stdin":  # python - <<EOF ... EOF
        cmd, stdin = [sys.executable, "-"], script
    else:  # a script file without an `if __name__ == "__main__":` guard, as the TFDS docs write them
        path = tmp_path / "build_it.py"
        path.write_text(script)
        cmd, stdin = [sys.executable, str(path)], None
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=420, env=env, cwd=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["stdin", "unguarded_script"])
def test_a_build_from_stdin_or_an_unguarded_script_ends_once(tmp_path, how):
    result = _run_build(tmp_path, how)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("SCRIPT STARTED") == 1, result.stdout[-2000:]
    assert result.stdout.count("BUILT 12") == 1, result.stdout[-2000:]
    assert len(result.stderr) < 200_000  # no flood of respawning workers


# ------------------------------------------------------------------ TFDS conventions


def test_importing_the_package_registers_the_builder_and_its_folder_files():
    script = (
        "import tensorflow_datasets as tfds, tfds_nyu\n"
        "b = tfds.builder('nyu_region_support/v2', data_dir='/nonexistent')\n"
        "print('nyu_region_support' in tfds.list_builders(), 'Silberman:ECCV12' in b.info.citation,"
        " b.info.description.startswith('NYU Depth v1 + v2'))"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-3:] == ["True", "True", "True"]  # CITATIONS.bib and README.md are read


def test_checksums_hold_only_verified_entries():
    folder = os.path.dirname(DUMMY_DIR)
    entries = [
        line.split("\t")
        for line in open(os.path.join(folder, "checksums.tsv"))
        if line.strip() and not line.startswith("#")
    ]
    assert [e[0].rsplit("/", 1)[1] for e in entries] == ["splits.mat"]
    if os.path.exists(SHARED_SPLITS):  # the real official file: its size and sha256
        import hashlib

        data = open(SHARED_SPLITS, "rb").read()
        assert int(entries[0][1]) == len(data) and entries[0][2] == hashlib.sha256(data).hexdigest()


def test_nothing_patches_private_tfds_attributes():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    offenders = []
    for folder in ("rsn_tf", "tfds_nyu"):
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for name in (f for f in files if f.endswith(".py")):
                for number, line in enumerate(open(os.path.join(dirpath, name)), 1):
                    code = line.split("#", 1)[0]  # comments may name what is not done
                    for needle in ("mock.patch", "MAX_MEM_BUFFER_SIZE", "dl_manager._", "tfds.core.shuffle"):
                        if needle in code:
                            offenders.append(f"{name}:{number}: {needle}")
    assert offenders == []


# ------------------------------------------------------------------ declared kinds, sizes, class names


def test_every_config_of_every_builder_declares_its_kind_and_whether_it_needs_a_manual_dir():
    import tfds_nyu

    expected = {  # written out by hand: what each config reads
        "nyu_region_support/v2": ("nyu_mat", True),
        "nyu_region_support/v1": ("nyu_mat", True),
        "nyu_region_support/merged": ("nyu_mat", True),
        "nyu_region_support/h5": ("nyu_h5", True),
        "nyu_region_support/synthetic": ("synthetic", False),
        "nyu_region_support/synthetic_hard": ("synthetic", False),
        "nyu_region_support/synthetic_hard_mini": ("synthetic", False),
        "nyu_region_support/synthetic_mini": ("synthetic", False),
        "nyu_h5_tree/felzenszwalb": ("nyu_h5", True),
        "nyu_h5_tree/slic": ("nyu_h5", True),
        "nyu_h5_tree/depth_only": ("nyu_h5", True),
        "rgbd_folder/felzenszwalb": ("rgbd_folder", True),
        "rgbd_folder/slic": ("rgbd_folder", True),
        "rgbd_folder/depth_only": ("rgbd_folder", True),
        "rgbd_folder/labels": ("rgbd_folder", True),
    }
    found = {}
    for name, cls in (
        ("nyu_region_support", tfds_nyu.Builder),
        ("nyu_h5_tree", tfds_nyu.NyuH5TreeBuilder),
        ("rgbd_folder", tfds_nyu.RgbdFolderBuilder),
    ):
        for config in cls.BUILDER_CONFIGS:
            found[f"{name}/{config.name}"] = (config.kind, config.needs_manual_dir)
    assert found == expected
    sizes = {c.name: (c.height, c.width) for c in Builder.BUILDER_CONFIGS}
    assert sizes.pop("synthetic_mini") == (96, 128) and set(sizes.values()) == {(480, 640)}


def test_a_config_kind_must_match_what_it_reads_and_nyu_files_keep_their_size():
    with pytest.raises(ValueError, match="does not match what it reads"):
        NyuRegionSupportConfig(name="x", kind="synthetic", sources=("v2",))
    with pytest.raises(ValueError, match="480x640"):
        NyuRegionSupportConfig(name="x", sources=("v2",), height=96, width=128)
    with pytest.raises(ValueError, match="kind"):
        NyuRegionSupportConfig(name="x", kind="nyu_mp4")
    made = NyuRegionSupportConfig(name="x", synthetic_frames=(2, 0), height=24, width=32)
    assert made.kind == "synthetic" and not made.needs_manual_dir


def test_builders_keep_their_build_state_per_instance(tmp_path):
    a = Builder(config="synthetic_mini", data_dir=str(tmp_path))
    b = Builder(config="synthetic_mini", data_dir=str(tmp_path))
    a._use_beam, a._requested_manual_dir = True, "/somewhere"
    assert b._use_beam is False and b._requested_manual_dir is None
    assert "_use_beam" not in vars(Builder) and "_OPEN_MATS" not in vars(sys.modules[Builder.__module__])


@pytest.mark.slow
def test_synthetic_mini_builds_at_96x128_and_names_its_classes_on_the_label_feature(tmp_path):
    import tfds_nyu

    data_dir = str(tmp_path / "data")
    Builder(config="synthetic_mini", data_dir=data_dir).download_and_prepare()
    builder = tfds.builder("nyu_region_support/synthetic_mini", data_dir=data_dir)  # as a plain-tfds user
    names = builder.info.features["label"].names
    # v2's simple-world table first (its official ids), then v1's only extra class, 'blinds'.
    assert names == ["unlabeled", *synthetic.V2_NAMES, "blinds"]
    assert builder.info.metadata["class_names"] == names and tfds_nyu.class_names(builder.info) == names
    counts = {s: builder.info.splits[s].num_examples for s in builder.info.splits}
    assert sum(counts.values()) == 32 and counts["test"] > 0
    example = next(iter(tfds.as_numpy(builder.as_dataset(split="train"))))
    assert example["image"].shape == (96, 128, 3) and example["label"].shape == (96, 128, 1)
    assert example["depth"].shape == example["regions"].shape == example["region_support"].shape == (96, 128)
    assert 0 < example["label"].max() < len(names)
