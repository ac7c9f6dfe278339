"""Shared test helpers (imported by the tests; pytest.ini puts tests/ on the path)."""

from __future__ import annotations

import pathlib

import tensorflow_datasets as tfds

from tfds_nyu import synthetic
from tfds_nyu.nyu_region_support import Builder


def build_small_merged(root: pathlib.Path, v2_frames: int, v1_frames: int, seed: int) -> Builder:
    """Render small NYU-format files under ``root/manual`` and build the `merged` config from them."""
    synthetic.generate(root / "manual", v2_frames=v2_frames, v1_frames=v1_frames, seed=seed)
    builder = Builder(config="merged", data_dir=str(root / "tfds"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root / "manual")))
    return builder
