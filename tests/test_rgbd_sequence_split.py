"""Sequence splits of an RGB-D folder: the last frames in file-name order held out as one contiguous block.

Every expected split here is written out by hand from the rule in the rgbd_folder README
(test = the last N frames, or the last round(n * p) of n frames with halves rounded up).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from conftest import REAL_SEQUENCE

from tfds_nyu import rgbd_frames
from tfds_nyu.rgbd_folder import Builder
from tfds_nyu.rgbd_frames import RgbdFolderError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KITCHEN = REAL_SEQUENCE

TEN = [f"seq_{i:04d}" for i in range(10)]  # seq_0000 ... seq_0009


def sequence(root, stems, h=48, w=64):
    """Tiny frames for ``stems``, written in reverse so that file-writing order says nothing."""
    rng = np.random.default_rng(0)
    for stem in reversed(stems):
        rgb = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        depth = rng.uniform(0.5, 4.0, (h, w)).astype(np.float32)
        rgbd_frames.write_frame(root, stem, rgb, depth)
    return root


def split_of(root, **holdout):
    frames = rgbd_frames.scan_folder(root, **holdout)
    train = [f.stem for f in frames if f.split == "train"]
    test = [f.stem for f in frames if f.split == "test"]
    assert len(train) + len(test) == len(frames)  # every frame got a side
    return train, test


# ------------------------------------------------------------------ which frames are held out


@pytest.mark.parametrize("holdout", [{"holdout_last": 3}, {"holdout_fraction": 0.3}])
def test_the_last_3_of_10_zero_padded_frames_are_test(tmp_path, holdout):
    train, test = split_of(sequence(tmp_path, TEN), **holdout)
    assert sorted(test) == ["seq_0007", "seq_0008", "seq_0009"]
    assert sorted(train) == ["seq_0000", "seq_0001", "seq_0002", "seq_0003", "seq_0004", "seq_0005", "seq_0006"]
    assert not set(train) & set(test)


def test_unpadded_numbers_are_held_out_in_capture_order_not_text_order(tmp_path):
    # Text order would put f10, f11, f12 between f1 and f2 and hold out f7, f8, f9.
    stems = [f"f{i}" for i in range(1, 13)]
    train, test = split_of(sequence(tmp_path, stems), holdout_last=3)
    assert sorted(test) == ["f10", "f11", "f12"]
    assert sorted(train) == ["f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9"]


@pytest.mark.parametrize(
    "n, fraction, held_out",
    [
        (10, 0.25, 3),  # 2.5 -> 3: halves round up (Python's round() would give 2)
        (9, 0.5, 5),  # 4.5 -> 5
        (7, 0.3, 2),  # 2.1 -> 2
        (7, 0.5, 4),  # 3.5 -> 4
        (10, 0.04, 1),  # 0.4 -> 0, but at least one frame is held out
        (10, 0.97, 9),  # 9.7 -> 10, but at least one frame is left to train on
    ],
)
def test_a_fraction_rounds_halves_up_within_1_and_n_minus_1(n, fraction, held_out):
    stems = [f"img{i:03d}" for i in range(n)]
    want = stems[n - held_out :]  # the last `held_out` of the list, written above in order
    assert rgbd_frames.sequence_holdout(list(reversed(stems)), holdout_fraction=fraction) == want


def test_no_holdout_asked_holds_out_nothing():
    assert rgbd_frames.sequence_holdout(TEN) == []


# ------------------------------------------------------------------ bad values and two ways at once


@pytest.mark.parametrize(
    "holdout, message",
    [
        ({"holdout_last": 0}, r"holdout_last: must be a whole number of frames, at least 1 .*got 0"),
        ({"holdout_last": -2}, r"holdout_last: must be a whole number of frames, at least 1 .*got -2"),
        ({"holdout_last": 2.5}, r"holdout_last: must be a whole number .*got 2\.5"),
        ({"holdout_last": 10}, r"holdout_last=10: there are 10 frames; hold out fewer than 10"),
        ({"holdout_last": 11}, r"holdout_last=11: there are 10 frames"),
        ({"holdout_fraction": 0.0}, r"holdout_fraction: must be in \(0, 1\).*got 0\.0"),
        ({"holdout_fraction": 1.0}, r"holdout_fraction: must be in \(0, 1\).*got 1\.0"),
        ({"holdout_fraction": 1.5}, r"holdout_fraction: must be in \(0, 1\).*got 1\.5"),
        ({"holdout_fraction": -0.2}, r"holdout_fraction: must be in \(0, 1\).*got -0\.2"),
        ({"holdout_last": 3, "holdout_fraction": 0.3}, r"holdout_last=3 and holdout_fraction=0\.3: give one way"),
    ],
)
def test_bad_holdouts_name_the_option_and_value(tmp_path, holdout, message):
    root = sequence(tmp_path, TEN)
    with pytest.raises(RgbdFolderError, match=message):
        rgbd_frames.scan_folder(root, **holdout)


def test_a_fraction_of_a_single_frame_is_refused(tmp_path):
    with pytest.raises(RgbdFolderError, match=r"holdout_fraction=0\.5: a hold-out needs at least 2 frames .*found 1"):
        rgbd_frames.scan_folder(sequence(tmp_path, ["only"]), holdout_fraction=0.5)


def test_a_holdout_and_split_lists_at_once_are_refused(tmp_path):
    root = sequence(tmp_path, TEN)
    (root / "train.txt").write_text("\n".join(TEN[:8]) + "\n")
    (root / "test.txt").write_text("\n".join(TEN[8:]) + "\n")
    # The explicit lists alone are the split ...
    train, test = split_of(root)
    assert sorted(test) == ["seq_0008", "seq_0009"] and len(train) == 8
    # ... and a hold-out on top of them is an error naming both ways.
    with pytest.raises(RgbdFolderError, match=r"holdout_last=3 holds out .*train\.txt and test\.txt.*not both"):
        rgbd_frames.scan_folder(root, holdout_last=3)


def test_a_holdout_and_split_subfolders_at_once_are_refused(tmp_path):
    sequence(tmp_path / "train", TEN[:7])
    sequence(tmp_path / "test", TEN[7:])
    with pytest.raises(RgbdFolderError, match=r"holdout_fraction=0\.3 holds out .*train/ and test/.*not both"):
        rgbd_frames.scan_folder(tmp_path, holdout_fraction=0.3)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"holdout_last": 0}, r"holdout_last: must be a whole number of frames, at least 1 .*got 0"),
        ({"holdout_fraction": 2.0}, r"holdout_fraction: must be in \(0, 1\).*got 2\.0"),
        ({"holdout_last": 30, "holdout_fraction": 0.3}, r"holdout_last=30 and holdout_fraction=0\.3: give one way"),
        ({"holdout_last": 30, "test_fraction": 0.2}, r"test_fraction=0\.2 and holdout_last=30: give one way"),
    ],
)
def test_a_config_with_a_bad_or_double_split_is_refused_when_made(fields, message):
    with pytest.raises(RgbdFolderError, match=message):
        Builder.builder_config_cls(name="seq", **fields)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--holdout_last=0"], "holdout_last: must be a whole number of frames, at least 1"),
        (["--holdout_fraction=1.5"], "holdout_fraction: must be in (0, 1)"),
        (["--holdout_last=3", "--holdout_fraction=0.3"], "holdout_last=3 and holdout_fraction=0.3: give one way"),
        (["--holdout_last=3", "--test_fraction=0.2"], "test_fraction=0.2 and holdout_last=3: give one way"),
    ],
)
def test_rsn_build_dataset_names_a_bad_holdout_flag(tmp_path, capsys, flags, message):
    from rsn_tf.cli import build_dataset

    args = ["--dataset=rgbd_folder/seq", f"--manual_dir={sequence(tmp_path / 'mine', TEN)}"]
    assert build_dataset.main([*args, f"--data_dir={tmp_path / 'data'}", *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "data" / "rgbd_folder").exists()  # refused before anything was written


# ------------------------------------------------------------------ one real build


def test_rsn_build_dataset_holds_out_the_last_frames_of_a_tiny_sequence(tmp_path, capsys):
    from rsn_tf.cli import build_dataset

    manual = sequence(tmp_path / "mine", TEN)
    data_dir = tmp_path / "data"
    argv = [
        "--dataset=rgbd_folder/seq",
        f"--manual_dir={manual}",
        f"--data_dir={data_dir}",
        "--height=48",
        "--width=64",
        "--region_mode=depth_only",
        "--holdout_last=3",
    ]
    assert build_dataset.main(argv) == 0, capsys.readouterr().err
    assert "train 7, test 3" in capsys.readouterr().out
    builder = tfds.builder_from_directory(str(data_dir / "rgbd_folder" / "seq" / "1.0.0"))
    assert builder.info.splits["train"].num_examples == 7 and builder.info.splits["test"].num_examples == 3
    keys = {
        split: sorted(e["key"].decode() for e in tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))
        for split in ("train", "test")
    }
    assert keys["test"] == ["seq_0007", "seq_0008", "seq_0009"]
    assert keys["train"] == ["seq_0000", "seq_0001", "seq_0002", "seq_0003", "seq_0004", "seq_0005", "seq_0006"]
    assert not set(keys["train"]) & set(keys["test"])
    # The built dataset says how it was split, in the metadata written next to it.
    rule = json.loads((data_dir / "rgbd_folder" / "seq" / "1.0.0" / "metadata.json").read_text())["split_rule"]
    assert "holdout_last=3" in rule and "last 3 of 10 frames" in rule and "seq_0007 ... seq_0009" in rule


# ------------------------------------------------------------------ the real kitchen sequence (listing only)


def test_the_kitchen_sequence_holds_out_its_last_30_frames():
    if not os.path.isdir(os.path.join(KITCHEN, "rgb")):
        pytest.skip(f"the shared real sequence is absent ({KITCHEN})")
    frames = rgbd_frames.scan_folder(KITCHEN, holdout_last=30)
    test = [f.stem for f in frames if f.split == "test"]
    train = [f.stem for f in frames if f.split == "train"]
    # Every 10th frame of 1000: 000000, 000010, ..., 000990; the last 30 start at 000700.
    assert test == [f"7scenes_redkitchen_{i:06d}" for i in range(700, 1000, 10)]
    assert test[0] == "7scenes_redkitchen_000700" and test[-1] == "7scenes_redkitchen_000990"
    assert train == [f"7scenes_redkitchen_{i:06d}" for i in range(0, 700, 10)]
    assert len(train) == 70 and train[-1] == "7scenes_redkitchen_000690"
