"""NYU from wherever the user got it: files found by content, exact missing-file messages, no hang on a dead host."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import sys
import threading
import time

import pytest
import tensorflow_datasets as tfds

from tfds_nyu import nyu_files
from tfds_nyu.nyu_mat import V1_FILENAME, V2_FILENAME, NyuFormatError
from tfds_nyu.nyu_region_support import Builder

DUMMY_DIR = os.path.join(os.path.dirname(os.path.abspath(sys.modules[Builder.__module__].__file__)), "dummy_data")
SPLITS_SHA256 = "6e081404491a8bfba2f066beaa9713ef6046f9007aa5f799f2a350506a580cee"


def _copy(name: str, dest):
    shutil.copy(os.path.join(DUMMY_DIR, name), dest)
    return dest


def _build(config: str, manual_dir, data_dir, **kwargs):
    builder = Builder(config=config, data_dir=str(data_dir), **kwargs)
    download_config = tfds.download.DownloadConfig(manual_dir=str(manual_dir) if manual_dir else None)
    builder.download_and_prepare(download_config=download_config)
    return builder


def test_files_are_recognised_by_content_not_name(tmp_path):
    v2 = _copy(V2_FILENAME, tmp_path / "nyu_depth_v2_labeled (1).mat")
    v1 = _copy(V1_FILENAME, tmp_path / "nyuv1.h5")
    split = _copy("splits.mat", tmp_path / "official-split.MAT")
    (tmp_path / "notes.txt").write_text("not NYU")
    assert nyu_files.identify(v2) == "v2"
    assert nyu_files.identify(v1) == "v1"
    assert nyu_files.identify(split) == "splits"
    assert nyu_files.identify(tmp_path / "notes.txt") is None
    found = nyu_files.locate(tmp_path, ["v2", "splits", "v1"], "merged")
    assert found == {"v2": v2, "splits": split, "v1": v1}


def test_a_renamed_download_in_a_subfolder_builds(tmp_path):
    manual = tmp_path / "manual"
    (manual / "kaggle_copy").mkdir(parents=True)
    _copy(V2_FILENAME, manual / "kaggle_copy" / "labeled.mat")
    _copy("splits.mat", manual / "splits_v2.mat")
    builder = _build("v2", manual, tmp_path / "data")
    assert builder.info.splits["train"].num_examples + builder.info.splits["test"].num_examples == 5
    example = next(iter(tfds.as_numpy(builder.as_dataset(split="train", shuffle_files=False))))
    assert example["source"].decode() == "v2:labels"


def test_missing_files_message_lists_names_sizes_hashes_place_and_command(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "readme.txt").write_text("x")
    with pytest.raises(nyu_files.MissingNyuFilesError) as info:
        _build("v2", manual, tmp_path / "data")
    message = str(info.value)
    for needed in (V2_FILENAME, "splits.mat", "2,972,037,809 bytes", "2,626 bytes", SPLITS_SHA256, "readme.txt"):
        assert needed in message
    assert f"rsn-build-dataset --dataset=nyu_region_support/v2 --manual_dir={manual}" in message
    assert "refused connections since 2023" in message
    assert V1_FILENAME not in message  # v2 does not need the v1 file


def test_without_a_manual_dir_it_names_the_default_place_and_never_downloads(tmp_path):
    # The URLs point at a port nothing listens on: had the builder tried them, the error would say so.
    dead = {k: f"http://127.0.0.1:9/{k}" for k in ("v2", "splits")}
    with pytest.raises(nyu_files.MissingNyuFilesError) as info:
        _build("v2", None, tmp_path / "data", urls=dead)
    assert "Tried:" not in str(info.value)
    assert os.path.join("downloads", "manual") in str(info.value)


def test_opt_in_download_fails_fast_on_a_dead_host_and_says_what_to_do(tmp_path):
    with socket.socket() as s:  # a port that refuses connections, as horatio.cs.nyu.edu does
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = {k: f"http://127.0.0.1:{port}/{k}.mat" for k in ("v2", "splits")}
    start = time.monotonic()
    with pytest.raises(nyu_files.MissingNyuFilesError) as info:
        _build("v2", tmp_path / "manual", tmp_path / "data", download=True, urls=dead)
    assert time.monotonic() - start < 60  # TFDS's own retries took 3 min 24 s on the dead host
    message = str(info.value)
    assert f"Tried: http://127.0.0.1:{port}/v2.mat:" in message and "refused" in message.lower()
    assert V2_FILENAME in message and "--manual_dir=" in message


@pytest.fixture
def mirror(tmp_path):
    """A real HTTP server on localhost serving the NYU-layout files, as a mirror would."""
    root = tmp_path / "mirror"
    root.mkdir()
    _copy(V2_FILENAME, root / "nyu_v2.mat")
    _copy("splits.mat", root / "splits.mat")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_opt_in_download_from_a_mirror_builds(tmp_path, mirror):
    urls = {"v2": f"{mirror}/nyu_v2.mat", "splits": f"{mirror}/splits.mat"}
    builder = _build("v2", None, tmp_path / "data", download=True, urls=urls)
    assert builder.is_prepared()
    assert builder.info.splits["train"].num_examples + builder.info.splits["test"].num_examples == 5


def test_a_download_with_the_wrong_content_is_named(tmp_path, mirror):
    urls = {"v2": f"{mirror}/splits.mat", "splits": f"{mirror}/splits.mat"}  # a mirror serving the wrong file
    with pytest.raises(NyuFormatError, match=r"expected the v2 file, its content is splits"):
        _build("v2", None, tmp_path / "data", download=True, urls=urls)


def test_a_truncated_copy_fails_before_any_work_naming_the_file(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    data = open(os.path.join(DUMMY_DIR, V2_FILENAME), "rb").read()
    (manual / "nyu_depth_v2_labeled.mat.part").write_bytes(data[: len(data) * 2 // 3])
    _copy("splits.mat", manual / "splits.mat")
    with pytest.raises(NyuFormatError, match=r"nyu_depth_v2_labeled\.mat\.part.*truncated"):
        _build("v2", manual, tmp_path / "data")
    assert not list((tmp_path / "data").rglob("*.tfrecord*"))


def test_a_wrong_splits_file_is_named(tmp_path):
    import scipy.io

    bad = tmp_path / "splits.mat"
    scipy.io.savemat(str(bad), {"trainNdxs": [[0], [1]], "testNdxs": [[2]]}, format="5")  # 0 is not 1-based
    with pytest.raises(NyuFormatError, match=r"splits\.mat.*1-based"):
        nyu_files.identify(bad)


def test_probe_reports_a_refused_port_quickly():
    start = time.monotonic()
    reason = nyu_files.probe("http://127.0.0.1:9/x", timeout=5)
    assert reason and time.monotonic() - start < 10


def test_rsn_build_dataset_downloads_from_a_mirror_with_the_flag(tmp_path, mirror, capsys):
    from rsn_tf.cli import build_dataset

    args = ["--dataset=nyu_region_support/v2", f"--data_dir={tmp_path / 'data'}"]
    mirrors = [f"--mirror=v2={mirror}/nyu_v2.mat", f"--mirror=splits={mirror}/splits.mat"]
    assert build_dataset.main([*args, *mirrors]) == 0
    out = capsys.readouterr().out
    assert "Built nyu_region_support/v2:" in out and "region mode labels" in out


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "--dataset is required"),
        (["--dataset=nyu_region_support/v2", "--mirror=v3=http://x"], "--mirror='v3=http://x': expected KEY=URL"),
        (["--dataset=rgbd_folder", "--manual_dir=.", "--depth_scale=5000"], "a custom config needs its own name"),
        (["--dataset=rgbd_folder/mine"], "--manual_dir: rgbd_folder needs your RGB-D folder"),
        (["--dataset=nyu_region_support/v2", "--height=10"], "only rgbd_folder takes a custom config"),
        (["--dataset=imagenet"], "expected nyu_region_support/<config>, nyu_h5_tree[/<config>] or rgbd_folder"),
        (["--dataset=nyu_region_support/v3"], "--dataset=nyu_region_support/v3:"),
    ],
)
def test_rsn_build_dataset_bad_flags_are_named(args, message, capsys, tmp_path):
    from rsn_tf.cli import build_dataset

    assert build_dataset.main([*args, f"--data_dir={tmp_path}"]) == 2
    assert message in capsys.readouterr().err


def test_rsn_build_dataset_missing_files_exit_2_with_the_message(tmp_path, capsys):
    from rsn_tf.cli import build_dataset

    (tmp_path / "manual").mkdir()
    args = ["--dataset=nyu_region_support/merged", f"--manual_dir={tmp_path / 'manual'}", f"--data_dir={tmp_path}"]
    assert build_dataset.main(args) == 2
    err = capsys.readouterr().err
    assert V2_FILENAME in err and V1_FILENAME in err and "splits.mat" not in err.split("Put them")[0]
