"""The Beam route (DirectRunner) and the in-process route build the same examples, byte for byte."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfds_nyu import nyu_h5, rgbd_frames
from tfds_nyu.generation import beam_requested, split_examples
from tfds_nyu.nyu_h5_tree import Builder as H5Builder
from tfds_nyu.nyu_region_support import Builder as NyuBuilder
from tfds_nyu.rgbd_folder import Builder as FolderBuilder

beam = pytest.importorskip(
    "apache_beam", reason="Apache Beam is the [beam] extra: pip install -r requirements-beam.txt"
)


def records_by_key(builder) -> dict[str, dict[str, bytes]]:
    """split -> example key -> the serialized record TFDS wrote, read back from the shard files in
    their order (the dict keeps it: ``same_files`` compares it too)."""
    out = {}
    for split, info in builder.info.splits.items():
        files = [str(f) for f in info.filepaths]
        records = {}
        for raw in tf.data.TFRecordDataset(files).as_numpy_iterator():
            example = tf.train.Example.FromString(raw)
            key = example.features.feature["key"].bytes_list.value[0].decode()
            records[key] = raw
        out[split] = records
    return out


def same_files(a: dict[str, dict[str, bytes]], b: dict[str, dict[str, bytes]]) -> bool:
    """The same records in the same order: what a reader of the shard files sees."""
    return a == b and {s: list(r) for s, r in a.items()} == {s: list(r) for s, r in b.items()}


def build(builder, manual, direct: bool):
    options = None
    if direct:
        options = beam.options.pipeline_options.PipelineOptions(["--runner=DirectRunner", "--direct_num_workers=1"])
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual), beam_options=options)
    )
    return records_by_key(builder)


def tiny_frames(n=6, size=(48, 64)):
    rng = np.random.default_rng(3)
    for i in range(n):
        rgb = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        depth = rng.uniform(0.5, 6, size).astype(np.float32)
        depth[: 2 + i, :3] = 0
        yield i, rgb, depth


@pytest.mark.slow
def test_rgbd_folder_beam_and_in_process_write_identical_examples(tmp_path):
    for i, rgb, depth in tiny_frames():
        rgbd_frames.write_frame(tmp_path / "mine", f"f{i}", rgb, depth)
    config = FolderBuilder.builder_config_cls(name="tiny", height=32, width=48, region_mode="slic")
    local = build(FolderBuilder(config=config, data_dir=str(tmp_path / "a")), tmp_path / "mine", direct=False)
    on_beam = build(FolderBuilder(config=config, data_dir=str(tmp_path / "b")), tmp_path / "mine", direct=True)
    assert sum(len(r) for r in local.values()) == 6
    assert same_files(local, on_beam)


@pytest.mark.slow
def test_h5_tree_beam_and_in_process_write_identical_examples(tmp_path):
    root = tmp_path / "tree"
    for i, rgb, depth in tiny_frames(5, (480, 640)):
        part = "val/official" if i == 0 else f"train/scene_{i % 2}"
        nyu_h5.write_h5_frame(root / part / f"{i + 1:05d}.h5", rgb, depth)
    local = build(H5Builder(config="felzenszwalb", data_dir=str(tmp_path / "a")), root, direct=False)
    on_beam = build(H5Builder(config="felzenszwalb", data_dir=str(tmp_path / "b")), root, direct=True)
    assert {s: len(r) for s, r in local.items()} == {"train": 2, "validation": 2, "test": 1}
    assert same_files(local, on_beam)


def test_the_route_follows_the_download_config():
    options = beam.options.pipeline_options.PipelineOptions([])
    assert beam_requested(tfds.download.DownloadConfig(beam_options=options))
    assert not beam_requested(tfds.download.DownloadConfig())
    local = split_examples([1, 2, 3], lambda i: [(str(i), {"v": i})] if i != 2 else [], False, "x", lambda n: None)
    assert list(local) == [("1", {"v": 1}), ("3", {"v": 3})]
    assert isinstance(split_examples([1], lambda i: [], True, "x", lambda n: None), beam.PTransform)


@pytest.mark.slow
def test_nyu_mat_files_beam_and_in_process_write_identical_examples(tmp_path):
    import os
    import sys

    dummy = os.path.join(os.path.dirname(os.path.abspath(sys.modules[NyuBuilder.__module__].__file__)), "dummy_data")
    local = build(NyuBuilder(config="merged", data_dir=str(tmp_path / "a")), dummy, direct=False)
    on_beam = build(NyuBuilder(config="merged", data_dir=str(tmp_path / "b")), dummy, direct=True)
    assert sum(len(r) for r in local.values()) == 11
    assert same_files(local, on_beam)
