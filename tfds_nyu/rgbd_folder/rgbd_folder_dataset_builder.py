"""rgbd_folder: your own RGB-D frames (phone LiDAR, RealSense, Kinect, ...) with region-support targets.

Reads the folder given as ``--manual_dir`` (layout in ``tfds_nyu.rgbd_frames`` and this
builder's README): ``rgb/``, ``depth/`` (16-bit PNG at ``depth_scale`` per metre, or
``.npy`` metres), optional ``labels/`` and ``cameras.json``. The split: ``train/`` and
``test/`` subfolders, or ``train.txt``/``test.txt`` (the explicit list), or a config's
``holdout_last``/``holdout_fraction`` (the last frames of a sequence in file-name order, a
contiguous block: neighbouring video frames are nearly identical), else a deterministic
split by stem hash (``test_fraction``, default 0.2). One way at a time; the built dataset's
metadata ``split_rule`` says which was used.

Configs name the region mode, i.e. where Algorithm 1's semantic map S comes from
(``tfds_nyu.label_free``): ``felzenszwalb`` (default), ``slic``, ``depth_only``, or
``labels`` (every frame must have labels). A config never mixes modes, and every
example's ``source`` says which mode made it. Frames are brought to ``height`` x
``width`` by scaling to cover and centre-cropping, intrinsics with them.

Build: ``rsn-build-dataset --dataset=rgbd_folder --manual_dir=DIR`` (or ``/depth_only`` etc.); a
custom size or depth scale: ``rsn-build-dataset --dataset=rgbd_folder/mine --manual_dir=DIR
--height=192 --width=256 --depth_scale=5000``; a sequence tested on its last 30 frames:
``rsn-build-dataset --dataset=rgbd_folder/kitchen --manual_dir=DIR --holdout_last=30``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from tfds_nyu import label_free, rgbd_frames, splits
from tfds_nyu.builder_common import BuildRequest, RegionSupportConfig
from tfds_nyu.examples import example_features, region_support_example
from tfds_nyu.generation import split_examples

log = logging.getLogger(__name__)

ORIGIN = "rgbd_folder"
HASH_TEST_FRACTION = 0.2  # of the stems, for the hash split when neither the folder nor a hold-out splits


@dataclasses.dataclass
class RgbdFolderConfig(RegionSupportConfig):
    """Output size (``height`` x ``width``, any), depth units, region mode and the split of a folder.

    The split, when the folder gives none (no ``train/``/``test/``, no ``train.txt``/``test.txt``):
    ``holdout_last=N`` tests on the last N frames in file-name order, ``holdout_fraction=p`` on
    the last round(n * p) of the n frames (halves up, at least 1 and at most n - 1;
    ``tfds_nyu.rgbd_frames.sequence_holdout``), else a hash of each stem sends ``test_fraction``
    (default 0.2) of them to test. At most one of the three may be set; a hold-out in a folder
    that gives its own split is an error.
    """

    kind: str = "rgbd_folder"
    depth_scale: float = 1000.0  # depth PNG units per metre: 1000 = mm (Kinect, RealSense), 5000 = TUM
    region_mode: str = label_free.DEFAULT_LABEL_FREE_MODE
    test_fraction: float | None = None  # of the stems for the hash split (None: HASH_TEST_FRACTION)
    holdout_last: int | None = None  # test = the last N frames in file-name order
    holdout_fraction: float | None = None  # test = the last round(n * p) frames in file-name order

    def __post_init__(self):
        super().__post_init__()
        if self.kind != "rgbd_folder":
            raise ValueError(f"{self.name}: an RGB-D folder config's kind is rgbd_folder, got {self.kind!r}")
        if not self.depth_scale > 0:
            raise ValueError(f"depth_scale: must be > 0 (units per metre), got {self.depth_scale}")
        rgbd_frames.check_holdout(self.holdout_last, self.holdout_fraction)
        if self.holdout and self.test_fraction is not None:
            raise rgbd_frames.RgbdFolderError(
                f"test_fraction={self.test_fraction} and {self.holdout}: give one way to split, not both "
                "(test_fraction is the share of the hash split, which a hold-out replaces)"
            )

    @property
    def holdout(self) -> str:
        """The hold-out asked for, as ``option=value`` (``holdout_last=30``), or "" for none."""
        if self.holdout_last is not None:
            return f"holdout_last={self.holdout_last}"
        if self.holdout_fraction is not None:
            return f"holdout_fraction={self.holdout_fraction}"
        return ""


def _config(mode: str, description: str) -> RgbdFolderConfig:
    return RgbdFolderConfig(name=mode, description=description, region_mode=mode)


class Builder(BuildRequest, tfds.core.GeneratorBasedBuilder):
    """An RGB-D folder of the user's, with Algorithm 1's targets."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: slic, felzenszwalb, depth_only and labels configs."}
    BUILDER_CONFIGS = [
        _config("felzenszwalb", "S = Felzenszwalb graph segments of the RGB (default; labels are kept, not used)."),
        _config("slic", "S = SLIC superpixels of the RGB."),
        _config("depth_only", "S = one class: regions are connected depth bins."),
        _config("labels", "S = the folder's labels/ (every frame must have one), as in the paper."),
    ]
    DEFAULT_CONFIG_NAME = label_free.DEFAULT_LABEL_FREE_MODE
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Pass your RGB-D folder as the manual dir. It holds rgb/<stem>.png|jpg, depth/<stem>.png (16-bit,
    1000 per metre unless the config's depth_scale says otherwise) or depth/<stem>.npy (metres),
    optional labels/<stem>.png and cameras.json, and optionally train/ and test/ subfolders with the
    same layout, or train.txt and test.txt listing stems. For a video sequence without either, build
    a config with holdout_last=N or holdout_fraction=p to test on its last frames.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        return self.dataset_info_from_configs(
            features=example_features(config.height, config.width, camera=True),
            supervised_keys=("image", "depth"),
            metadata=tfds.core.MetadataDict(),
        )

    def _folder(self, dl_manager) -> epath.Path:
        try:
            return epath.Path(dl_manager.manual_dir)
        except AssertionError as error:  # TFDS: no manual dir given, or an empty one
            raise rgbd_frames.RgbdFolderError(
                "rgbd_folder reads your RGB-D folder from the manual dir, and none was given or it is empty: "
                "build with `rsn-build-dataset --dataset=rgbd_folder --manual_dir=DIR` (or "
                "DownloadConfig(manual_dir=DIR)).\n" + self.MANUAL_DOWNLOAD_INSTRUCTIONS
            ) from error

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
        folder = self._folder(dl_manager)
        frames = rgbd_frames.scan_folder(folder, config.holdout_last, config.holdout_fraction)
        if config.region_mode == "labels":
            unlabelled = [f for f in frames if f.labels is None]
            if unlabelled:
                raise rgbd_frames.RgbdFolderError(
                    f"{unlabelled[0].rgb}: no labels/{unlabelled[0].stem}.png, but config 'labels' needs labels "
                    f"for every frame ({len(unlabelled)} of {len(frames)} have none); use a label-free config "
                    f"such as rgbd_folder/{label_free.DEFAULT_LABEL_FREE_MODE}"
                )
        if config.holdout:
            test = rgbd_frames.stem_order(f.stem for f in frames if f.split == "test")
            split_rule = (
                f"last frames of the sequence ({config.holdout}): the last {len(test)} of {len(frames)} frames "
                f"in file-name order are test ({test[0]} ... {test[-1]}), the rest train"
            )
        elif all(f.split is None for f in frames):
            fraction = HASH_TEST_FRACTION if config.test_fraction is None else config.test_fraction
            test = splits.hash_holdout([f.stem for f in frames], fraction)
            frames = [dataclasses.replace(f, split="test" if f.stem in test else "train") for f in frames]
            split_rule = f"hash of stem, test fraction {fraction}"
        else:
            split_rule = "train/ and test/ subfolders, or train.txt and test.txt"
        metadata = self.info.metadata
        metadata.update(
            region_mode=config.region_mode,
            folder=str(folder),
            depth_scale=config.depth_scale,
            split_rule=split_rule,
            resize="scale to cover, centre crop; rgb area/bilinear, depth and labels nearest; intrinsics scaled",
            cameras=sum(f.camera is not None for f in frames),
        )
        groups = {s: [f for f in frames if f.split == s] for s in rgbd_frames.SPLIT_NAMES}
        return {s: self._generate_examples(s, items) for s, items in groups.items() if items}

    def _generate_examples(self, split, frames):
        """The split's examples, in process or on Beam (tfds_nyu.generation), one frame at a time."""
        config = self.builder_config
        make = functools.partial(
            _folder_examples,
            size=(config.height, config.width),
            depth_scale=config.depth_scale,
            region_mode=config.region_mode,
        )
        return split_examples(frames, make, self._use_beam, split, lambda n: self._record_skipped(split, n))

    def _record_skipped(self, split: str, skipped: int) -> None:
        self.info.metadata.setdefault("skipped_frames", {})[split] = skipped


def _folder_examples(
    frame: rgbd_frames.FolderFrame, size: tuple[int, int], depth_scale: float, region_mode: str
) -> list[tuple[str, dict]]:
    """One frame: read, check, fit to size, then Algorithm 1 on the mode's semantic map (picklable for Beam)."""
    rgb, depth, labels = rgbd_frames.read_frame(frame, depth_scale)
    rgb, depth, labels, camera = rgbd_frames.fit_to_size(rgb, depth, labels, frame.camera, size)
    if not depth.any():
        log.warning("%s has no valid depth: skipped", frame.depth)
        return []
    example = region_support_example(frame.stem, rgb, depth, labels, region_mode, ORIGIN, frame.split or "")
    example["camera"] = camera.as_array() if camera is not None else np.zeros(4, np.float32)
    return [(frame.stem, example)]
