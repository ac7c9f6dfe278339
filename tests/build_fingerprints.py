"""Fingerprints of small 480x640 builds of every dataset family: sha256 per example per feature.

Run against the code before the datasets' reorganisation (commit 0be8a32) to write
``tests/data/build_fingerprints.json``; ``tests/test_build_identity.py`` builds the same with
today's code and compares. The script uses only what both versions offer, choosing the
new name where one moved (the h5 tree's builder, the hard world's functions).

    git worktree add /tmp/tfds_base 0be8a32
    cd /tmp/tfds_base && PYTHONPATH=/tmp/tfds_base /work/main/.venv/bin/python \
        /work/main/tests/build_fingerprints.py /work/main/tests/data/build_fingerprints.json
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import sys
import tempfile

import cv2
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

SIZE = (480, 640)
# Features whose serialized bytes may change by design (the label map becomes a LabeledImage):
# these are also fingerprinted after decoding.
DECODED = ("label",)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def records(builder) -> dict[str, dict[str, dict[str, str]]]:
    """split -> key -> feature -> sha256 of the serialized tf.train.Feature (plus decoded label)."""
    out = {}
    for split, info in sorted(builder.info.splits.items()):
        examples = {}
        for raw in tf.data.TFRecordDataset([str(f) for f in info.filepaths]).as_numpy_iterator():
            features = tf.train.Example.FromString(raw).features.feature
            key = features["key"].bytes_list.value[0].decode()
            entry = {name: _sha(feature.SerializeToString()) for name, feature in sorted(features.items())}
            for name in DECODED:
                png = features[name].bytes_list.value[0]
                array = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
                entry[f"{name}:decoded"] = _sha(array.astype("<u2").tobytes())
            examples[key] = entry
        out[split] = examples
    return out


def _prepare(builder, manual: pathlib.Path | None = None):
    config = tfds.download.DownloadConfig(manual_dir=str(manual) if manual else None)
    builder.download_and_prepare(download_config=config)
    return records(builder)


def _world(name: str):
    from tfds_nyu import synthetic

    lookup = getattr(synthetic, "world", None) or synthetic._world
    return lookup(name)


def frame_fingerprints() -> dict[str, dict[str, str]]:
    """Every array a world renders, raw depth included (the examples hold only the filled depth)."""
    out = {}
    for world, scene_index, pose in (("simple", 0, 0), ("simple", 3, 1), ("hard", 0, 0), ("hard", 2, 1)):
        make, render, _, _ = _world(world)
        frame = render(make(scene_index, 4), pose, *SIZE)
        out[f"{world}/{scene_index}/{pose}"] = {
            "image": _sha(frame.image.tobytes()),
            "depth": _sha(frame.depth.astype("<f4").tobytes()),
            "raw_depth": _sha(frame.raw_depth.astype("<f4").tobytes()),
            "labels": _sha(frame.labels.astype("<u2").tobytes()),
            "instances": _sha(frame.instances.tobytes()),
            "label_names": _sha("\n".join(frame.label_names).encode()),
        }
    return out


def _h5_builder(data_dir: str):
    try:
        from tfds_nyu.nyu_h5_tree import Builder
    except ImportError:  # before the h5 tree had its own builder
        from tfds_nyu.nyu_region_support import Builder

        return Builder(config="h5", data_dir=data_dir)
    return Builder(config="felzenszwalb", data_dir=data_dir)


def build_fingerprints(root: pathlib.Path) -> dict:
    """Build every family small into ``root`` and fingerprint each example."""
    import tfds_nyu  # noqa: F401  registers the builders
    from tfds_nyu import nyu_h5, rgbd_frames, synthetic
    from tfds_nyu.nyu_region_support import Builder as NyuBuilder
    from tfds_nyu.rgbd_folder import Builder as FolderBuilder

    out: dict = {}
    data_dir = str(root / "tfds")
    mats = root / "mats"
    synthetic.generate(mats, v2_frames=3, v1_frames=3, seed=3, workers=1)
    for config in ("merged", "v2", "v1"):
        out[f"nyu_region_support/{config}"] = _prepare(NyuBuilder(config=config, data_dir=data_dir), mats)

    for world in ("simple", "hard"):
        config = NyuBuilder.builder_config_cls(
            name=f"fingerprint_{world}",
            description="a few frames of a synthetic world",
            sources=("v2", "v1"),
            split_rule="scene_aware",
            synthetic_frames=(2, 2),
            synthetic_world=world,
        )
        out[f"nyu_region_support/synthetic:{world}"] = _prepare(NyuBuilder(config=config, data_dir=data_dir))

    rng = np.random.default_rng(5)
    folder, tree = root / "folder", root / "tree"
    for i in range(4):
        rgb = rng.integers(0, 255, (*SIZE, 3), dtype=np.uint8)
        depth = rng.uniform(0.5, 6.0, SIZE).astype(np.float32)
        depth[: 10 + i, :7] = 0
        labels = rng.integers(0, 4, SIZE).astype(np.uint16)
        rgbd_frames.write_frame(folder, f"f{i}", rgb, depth, labels=labels if i % 2 else None)
        part = "val/official" if i == 0 else f"train/scene_{i % 2}"
        nyu_h5.write_h5_frame(tree / part / f"{i + 1:05d}.h5", rgb, depth)
    for mode in ("felzenszwalb", "depth_only"):
        out[f"rgbd_folder/{mode}"] = _prepare(FolderBuilder(config=mode, data_dir=data_dir), folder)
    out["nyu_h5_tree (was nyu_region_support/h5)"] = _prepare(_h5_builder(data_dir), tree)
    out["frames"] = frame_fingerprints()
    return out


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fingerprints = build_fingerprints(pathlib.Path(tmp))
    payload = {
        "about": "sha256 per example per serialized feature of small 480x640 builds by commit 0be8a32 "
        "(tests/build_fingerprints.py); 'label:decoded' hashes the decoded uint16 label map",
        "fingerprints": fingerprints,
    }
    pathlib.Path(argv[1]).write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
