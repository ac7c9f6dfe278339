"""The NYU h5 tree (sparse-to-dense / FastDepth layout): reader errors, the nyu_h5_tree builder, the old name."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfds_nyu import nyu_h5, synthetic
from tfds_nyu.nyu_h5_tree import Builder
from tfds_nyu.nyu_region_support import Builder as NyuBuilder


def write_tree(root, scenes: dict[str, int], val: int, seed: int = 0, size=(480, 640)):
    """A small tree written by our writer from synthetic renders: ``scenes`` = {scene: frames}."""
    i = 0
    for scene, n in {**scenes, "official": val}.items():
        part = "val" if scene == "official" else "train"
        for k in range(n):
            frame = synthetic.render(synthetic.make_scene(i, seed), k, *size)
            nyu_h5.write_h5_frame(root / part / scene / f"{k + 1:05d}.h5", frame.image, frame.raw_depth)
            i += 1
    return root


def test_reader_matches_the_layout_channels_first(tmp_path):
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[..., 0] = 200  # red
    rgb[2, 3] = (1, 2, 3)
    depth = np.arange(48, dtype=np.float32).reshape(6, 8) / 10
    nyu_h5.write_h5_frame(tmp_path / "x.h5", rgb, depth)
    import h5py

    with h5py.File(tmp_path / "x.h5") as f:
        assert f["rgb"].shape == (3, 6, 8) and f["rgb"].dtype == np.uint8 and f["depth"].shape == (6, 8)
        assert f["rgb"][0, 0, 0] == 200 and tuple(f["rgb"][:, 2, 3]) == (1, 2, 3)
    got_rgb, got_depth = nyu_h5.read_h5_frame(tmp_path / "x.h5")
    assert (got_rgb == rgb).all() and np.allclose(got_depth, depth)


def test_reader_errors_name_the_file(tmp_path):
    import h5py

    with h5py.File(tmp_path / "nodepth.h5", "w") as f:
        f["rgb"] = np.zeros((3, 4, 4), np.uint8)
    with pytest.raises(nyu_h5.NyuH5Error, match=r"nodepth\.h5: missing dataset 'depth'"):
        nyu_h5.read_h5_frame(tmp_path / "nodepth.h5")
    with h5py.File(tmp_path / "hwc.h5", "w") as f:
        f["rgb"] = np.zeros((4, 4, 3), np.uint8)
        f["depth"] = np.zeros((4, 4), np.float32)
    with pytest.raises(nyu_h5.NyuH5Error, match=r"hwc\.h5: 'rgb' must be uint8 \(3, H, W\)"):
        nyu_h5.read_h5_frame(tmp_path / "hwc.h5")
    nyu_h5.write_h5_frame(tmp_path / "ok.h5", np.zeros((64, 64, 3), np.uint8), np.ones((64, 64)))
    data = (tmp_path / "ok.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(nyu_h5.NyuH5Error, match=r"cut\.h5: cannot read as HDF5, the file is truncated"):
        nyu_h5.read_h5_frame(tmp_path / "cut.h5")


def test_tree_scan_and_root_discovery(tmp_path):
    root = tmp_path / "nyudepthv2"
    for path in ("train/office_0001/00010.h5", "train/office_0001/00002.h5", "train/bath_0002/00001.h5"):
        nyu_h5.write_h5_frame(root / path, np.zeros((4, 4, 3), np.uint8), np.ones((4, 4)))
    nyu_h5.write_h5_frame(root / "val/official/00001.h5", np.zeros((4, 4, 3), np.uint8), np.ones((4, 4)))
    assert nyu_h5.find_h5_root(tmp_path) == root
    keys = [f.key for f in nyu_h5.scan_h5_tree(root)]
    # scenes by name, frames by number (00002 before 00010)
    assert keys == ["train/bath_0002/00001", "train/office_0001/00002", "train/office_0001/00010", "val/official/00001"]
    nyu_h5.write_h5_frame(root / "train/stray.h5", np.zeros((4, 4, 3), np.uint8), np.ones((4, 4)))
    with pytest.raises(nyu_h5.NyuH5Error, match=r"must sit in a scene folder"):
        nyu_h5.scan_h5_tree(root)


@pytest.mark.slow
def test_h5_builder_builds_a_scene_aware_split_with_label_free_targets(tmp_path):
    scenes = {"bedroom_0001": 2, "kitchen_0002": 2, "office_0003": 1, "study_0004": 2}
    write_tree(tmp_path / "manual" / "nyudepthv2", scenes, val=2)
    builder = Builder(data_dir=str(tmp_path / "data"))  # the default config: felzenszwalb
    assert builder.builder_config.name == "felzenszwalb"
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path / "manual")))
    counts = {s: builder.info.splits[s].num_examples for s in builder.info.splits}
    assert counts["test"] == 2 and sum(counts.values()) == 9
    held = set(builder.info.metadata["validation_scenes"])
    assert len(held) == 1  # max(1, round(4 scenes * 5 %))
    seen = {}
    for split in ("train", "validation", "test"):
        for e in tfds.as_numpy(builder.as_dataset(split=split)):
            seen.setdefault(split, set()).add(e["scene"].decode())
            assert e["source"].decode() == "h5:felzenszwalb" and not e["label"].any()
            valid = e["depth"] > 0
            assert (e["regions"][valid] > 0).all() and (e["region_support"][~valid] == 0).all()
    assert seen["validation"] == held and not (seen["train"] & held)  # no scene on both sides
    assert seen["test"] == {"official"}
    assert counts["validation"] == sum(scenes[s] for s in held)
    assert builder.info.metadata["region_mode"] == "felzenszwalb"


def test_h5_builder_without_the_tree_says_what_to_unpack_where(tmp_path):
    (tmp_path / "manual").mkdir()
    (tmp_path / "manual" / "nyudepthv2.tar.gz").write_bytes(b"x")
    builder = Builder(config="slic", data_dir=str(tmp_path / "data"))
    expected = r"(?s)train/<scene>/<n>\.h5.*nyudepthv2\.tar\.gz.*--dataset=nyu_h5_tree/slic"
    with pytest.raises(FileNotFoundError, match=expected):
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path / "manual")))


def test_h5_configs_refuse_the_labels_mode_and_a_size_other_than_the_trees():
    with pytest.raises(ValueError, match="the h5 tree has no labels"):
        Builder.builder_config_cls(name="x", region_mode="labels")
    with pytest.raises(ValueError, match="the h5 tree has no labels"):
        NyuBuilder.builder_config_cls(name="x", sources=("h5",), split_rule="h5_tree", region_mode="labels")
    with pytest.raises(ValueError, match="480x640"):
        Builder.builder_config_cls(name="x", height=96, width=128)


def _records(builder, manual) -> dict[str, dict[str, bytes]]:
    """split -> example key -> the serialized record, read back from the shard files."""
    import tensorflow as tf

    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    out = {}
    for split, info in builder.info.splits.items():
        for raw in tf.data.TFRecordDataset([str(f) for f in info.filepaths]).as_numpy_iterator():
            key = tf.train.Example.FromString(raw).features.feature["key"].bytes_list.value[0].decode()
            out.setdefault(split, {})[key] = raw
    return out


def test_the_old_name_still_builds_the_same_examples_and_says_the_new_one(tmp_path, caplog):
    root = tmp_path / "tree"
    rng = np.random.default_rng(1)
    for part in ("val/official", "train/a_0001", "train/b_0002"):
        depth = rng.uniform(0.5, 5.0, (480, 640)).astype(np.float32)
        nyu_h5.write_h5_frame(root / part / "00001.h5", rng.integers(0, 255, (480, 640, 3), np.uint8), depth)
    new = _records(Builder(config="felzenszwalb", data_dir=str(tmp_path / "new")), root)
    with caplog.at_level("WARNING"):
        old = _records(NyuBuilder(config="h5", data_dir=str(tmp_path / "old")), root)
    assert "nyu_region_support/h5 is deprecated" in caplog.text and "nyu_h5_tree" in caplog.text
    assert sum(len(r) for r in new.values()) == 3 and old == new
