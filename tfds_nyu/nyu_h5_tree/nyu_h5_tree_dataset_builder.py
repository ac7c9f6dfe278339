"""nyu_h5_tree: the sparse-to-dense / FastDepth NYU Depth v2 h5 tree with region-support targets.

The tree (``train/<scene>/<n>.h5``, ``val/official/<n>.h5``, or a ``nyudepthv2/`` folder
holding them) has ~47k training frames from the raw sequences and the 654 official test
frames, at 480x640, without labels: Algorithm 1's semantic map comes from the RGB
(``tfds_nyu.label_free``). Whole scenes of ``train/`` are held out as ``validation`` (a hash
of the scene name); ``val/official`` is ``test``.

Configs name the region mode: ``felzenszwalb`` (default; the former
``nyu_region_support/h5``, whose examples it reproduces byte for byte), ``slic``,
``depth_only``.

Build: ``tfds.builder("nyu_h5_tree").download_and_prepare(download_config=
tfds.download.DownloadConfig(manual_dir=TREE))``. ``rsn-build-dataset
--dataset=nyu_region_support/h5 --manual_dir=TREE`` builds the same examples under the old name.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable

import tensorflow_datasets as tfds
from etils import epath

from tfds_nyu import label_free, nyu_files, nyu_h5, splits
from tfds_nyu.builder_common import BuildRequest, RegionSupportConfig, bad_frame, manual_dir
from tfds_nyu.examples import bad_frame_reason, example_features, region_support_example
from tfds_nyu.generation import split_examples
from tfds_nyu.limits import NYU_SIZE

__all__ = ["Builder", "NyuH5TreeConfig", "h5_split_generators"]

log = logging.getLogger(__name__)

ORIGIN = "h5"  # the origin in every example's source tag, "h5:<region mode>"


@dataclasses.dataclass
class NyuH5TreeConfig(RegionSupportConfig):
    """A label-free region mode and the fraction of train/'s scenes held out for validation."""

    kind: str = "nyu_h5"
    region_mode: str = label_free.DEFAULT_LABEL_FREE_MODE
    validation_scene_fraction: float = 0.05

    def __post_init__(self):
        super().__post_init__()
        if self.kind != "nyu_h5":
            raise ValueError(f"{self.name}: an h5 tree config's kind is nyu_h5, got {self.kind!r}")
        if self.region_mode == "labels":
            raise ValueError("region_mode: the h5 tree has no labels; use a label-free mode")


def _config(mode: str, description: str) -> NyuH5TreeConfig:
    return NyuH5TreeConfig(name=mode, description=description, region_mode=mode)


class Builder(BuildRequest, tfds.core.GeneratorBasedBuilder):
    """The sparse-to-dense NYU v2 h5 tree with label-free region-support targets."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Split out of nyu_region_support, whose h5 config (1.1.0) wrote the same examples as "
        "felzenszwalb; slic and depth_only configs.",
    }
    BUILDER_CONFIGS = [
        _config("felzenszwalb", "S = Felzenszwalb graph segments of the RGB (default; was nyu_region_support/h5)."),
        _config("slic", "S = SLIC superpixels of the RGB."),
        _config("depth_only", "S = one class: regions are connected depth bins."),
    ]
    DEFAULT_CONFIG_NAME = label_free.DEFAULT_LABEL_FREE_MODE
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Put the sparse-to-dense NYU h5 tree in the manual dir: train/<scene>/*.h5 and val/official/*.h5
    (or a nyudepthv2/ folder holding them). It is the nyudepthv2.tar.gz of sparse-to-dense /
    FastDepth, also served by several mirrors.
    """

    def __init__(self, *, skip_bad_frames: bool = False, **kwargs):
        """``skip_bad_frames=True`` skips a corrupt frame (with a warning, counted) instead of failing."""
        self._skip_bad_frames = bool(skip_bad_frames)
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        return self.dataset_info_from_configs(
            features=example_features(config.height, config.width),
            supervised_keys=("image", "depth"),
            homepage="https://github.com/fangchangma/sparse-to-dense",
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
        self.info.metadata["region_mode"] = config.region_mode
        self.info.metadata["split_rule"] = "h5_tree"
        return h5_split_generators(
            manual_dir(dl_manager, self._requested_manual_dir),
            self.info.metadata,
            region_mode=config.region_mode,
            size=(config.height, config.width),
            validation_scene_fraction=config.validation_scene_fraction,
            skip_bad=self._skip_bad_frames,
            use_beam=self._use_beam,
            name=f"{self.name}/{config.name}",
        )

    def _generate_examples(self):  # every split comes from h5_split_generators
        raise NotImplementedError


def h5_split_generators(
    manual: epath.Path,
    metadata: dict,
    *,
    region_mode: str,
    size: tuple[int, int],
    validation_scene_fraction: float,
    skip_bad: bool,
    use_beam: bool,
    name: str,
) -> dict:
    """The train / validation / test generators of the h5 tree under ``manual``.

    Shared with the deprecated ``nyu_region_support/h5``, so both names build the same
    examples. Records the tree's root, the held-out scenes and the per-split skip counts
    in ``metadata``.
    """
    root = nyu_h5.find_h5_root(manual) if manual.is_dir() else None
    if root is None:
        held = sorted(p.name for p in manual.iterdir())[:8] if manual.is_dir() else "it does not exist"
        raise nyu_files.MissingNyuFilesError(
            f"{name} needs the sparse-to-dense NYU h5 tree in {manual}: train/<scene>/<n>.h5 "
            f"and val/official/<n>.h5, or a nyudepthv2/ folder holding them (it holds: {held}).\n"
            "That tree is the nyudepthv2.tar.gz of sparse-to-dense / FastDepth, also served by several "
            "mirrors; unpack it there and run again:\n"
            f"  rsn-build-dataset --dataset={name} --manual_dir={manual}"
        )
    frames = nyu_h5.scan_h5_tree(root)
    train_scenes = [f.scene for f in frames if f.part == "train"]
    held_out = splits.hash_holdout(train_scenes, validation_scene_fraction)
    metadata["h5_root"] = str(root)
    metadata["validation_scenes"] = sorted(held_out)
    groups = {
        "train": [f for f in frames if f.part == "train" and f.scene not in held_out],
        "validation": [f for f in frames if f.part == "train" and f.scene in held_out],
        "test": [f for f in frames if f.part == "val"],
    }
    make = functools.partial(_h5_examples, region_mode=region_mode, size=tuple(size), skip_bad=skip_bad)
    return {
        split: split_examples(items, make, use_beam, split, _skip_recorder(metadata, split))
        for split, items in groups.items()
        if items
    }


def _skip_recorder(metadata: dict, split: str) -> Callable[[int], None]:
    def record(skipped: int) -> None:
        metadata.setdefault("skipped_frames", {})[split] = skipped
        if skipped:
            log.warning(
                "split %s: %d frame(s) skipped (no valid depth, or corrupt with skip_bad_frames)", split, skipped
            )

    return record


def _h5_examples(
    frame: nyu_h5.H5Frame, region_mode: str, size: tuple[int, int] = NYU_SIZE, skip_bad: bool = False
) -> list[tuple[str, dict]]:
    """One h5 file at a time: memory does not grow with the size of the tree (picklable for Beam)."""
    image, depth = nyu_h5.read_h5_frame(frame.path)
    reason = bad_frame_reason(image, depth)
    if reason:
        return bad_frame(str(frame.path), reason, skip_bad)
    if depth.shape != tuple(size):
        raise nyu_h5.NyuH5Error(f"{frame.path}: {depth.shape[0]}x{depth.shape[1]}, expected {size[0]}x{size[1]}")
    if not depth.any():
        log.warning("%s has no valid depth: skipped", frame.path)
        return []
    return [(frame.key, region_support_example(frame.key, image, depth, None, region_mode, ORIGIN, frame.scene))]
