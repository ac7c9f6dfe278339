"""nyu_region_support: NYU Depth v1 + v2 labelled frames with the paper's region-support targets.

Every example holds the RGB image, the depth, the semantic labels (class ids
merged by name across v1 and v2) and the targets of Algorithm 1: the
re-segmented ``regions`` and the ``region_support``.

Configs (each declares its ``kind`` and so ``needs_manual_dir``; ``height`` x ``width`` is
the size of the stored examples, NYU's 480x640 except where named):
  v2         the 1449 v2 frames with NYU's official 795 / 654 split (splits.mat)
  v1         the 2284 v1 frames with the paper's scene-aware split
  merged     v1 + v2 with the paper's scene-aware split (3264 / 483 in proportion)
  synthetic  400 synthetic frames written in NYU's file layout, then read like `merged`
  synthetic_hard       400 frames of the hard synthetic world (tfds_nyu.synthetic), read the same way
  synthetic_hard_mini  32 frames of it, for tests
  synthetic_mini       32 frames of the simple world at 96x128 (the tiny preset's size), for tests
  h5         deprecated: the sparse-to-dense h5 tree now has its own builder, ``nyu_h5_tree``; this
             name still builds the same examples as ``nyu_h5_tree/felzenszwalb``, with a warning

The label map is a ``tfds.features.LabeledImage``: ``info.features["label"].names`` are the
merged class names (``names[0]`` is "unlabeled"), as is ``info.metadata["class_names"]``.

The real configs build from ``--manual_dir``, where files are recognised by content
(``tfds_nyu.nyu_files``), and never wait on the dead original host unless asked
(builder argument ``download=True``, or ``rsn-build-dataset --download``).

Build: ``rsn-build-dataset --dataset=nyu_region_support/merged --manual_dir=DIR`` (or ``tfds build
tfds_nyu/nyu_region_support --config=merged --manual_dir=DIR`` where Apache Beam and mlcroissant,
which TFDS 4.9.10's ``tfds`` command imports at start-up, are installed).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from tfds_nyu import label_free, nyu_files, nyu_mat, splits, synthetic
from tfds_nyu.builder_common import BuildRequest, RegionSupportConfig, bad_frame, manual_dir
from tfds_nyu.examples import bad_frame_reason, example_features, region_support_example, set_class_names
from tfds_nyu.generation import split_examples
from tfds_nyu.limits import NYU_SIZE
from tfds_nyu.nyu_h5_tree.nyu_h5_tree_dataset_builder import NyuH5TreeConfig, h5_split_generators

URLS = {key: expected.url for key, expected in nyu_files.EXPECTED.items()}
FILENAMES = {key: expected.filename for key, expected in nyu_files.EXPECTED.items()}
UNLABELED = "unlabeled"
H5_BUILDER = "nyu_h5_tree"  # where the h5 tree's examples are built now
# Memory: TFDS's writer keeps up to 1 GB (tfds.core.shuffle.MAX_MEM_BUFFER_SIZE) of serialized
# examples per split in memory before it spills them to disk, and it offers no public knob for
# that limit. An example is ~2 MB, so a split of more than ~500 frames costs ~1 GB of RSS on top
# of the reader's few hundred MB (measured in BENCHMARKS.md). We accept that rather than patch a
# private TFDS constant: it fits every machine we target (24 GB here), and a build that must use
# less goes through Beam, which shuffles on disk.

log = logging.getLogger(__name__)


@dataclasses.dataclass
class NyuRegionSupportConfig(RegionSupportConfig):
    """Which NYU releases to read (or render), how to split them, and where the semantic map S comes from.

    ``kind``: ``nyu_mat`` (NYU's .mat files from the manual dir), ``synthetic`` (rendered into
    NYU's layout, any ``height`` x ``width``) or ``nyu_h5`` (the deprecated ``h5`` alias). A
    config made without one (e.g. in a test) takes it from what it reads.
    """

    sources: tuple[str, ...] = ("v2",)  # v2, v1 (labelled .mat files) or h5 (the sparse-to-dense tree)
    split_rule: str = "official"  # official (v2 splits.mat) | scene_aware (the paper's) | h5_tree
    synthetic_frames: tuple[int, int] = (0, 0)  # (v2, v1) frames to render; (0, 0) = real NYU files
    synthetic_seed: int = 0
    synthetic_world: str = "simple"  # tfds_nyu.synthetic.WORLDS: simple (the demo's) or hard
    region_mode: str = "labels"  # tfds_nyu.label_free.REGION_MODES

    def __post_init__(self):
        implied = "synthetic" if sum(self.synthetic_frames) > 0 else "nyu_h5" if "h5" in self.sources else "nyu_mat"
        self.kind = self.kind or implied
        super().__post_init__()
        if self.kind != implied:
            raise ValueError(
                f"{self.name}: kind {self.kind!r} does not match what it reads (sources {self.sources}, "
                f"synthetic_frames {self.synthetic_frames}): {implied!r}"
            )
        if self.kind == "nyu_h5" and self.region_mode == "labels":
            raise ValueError("region_mode: the h5 tree has no labels; use a label-free mode")
        if self.kind == "synthetic" and self.synthetic_world not in synthetic.WORLDS:
            raise ValueError(f"synthetic_world: {self.synthetic_world!r}, expected one of {synthetic.WORLDS}")

    @property
    def synthetic(self) -> bool:
        return self.kind == "synthetic"

    def needed_files(self) -> list[str]:
        keys = list(self.sources)
        if self.split_rule == "official":
            keys.append("splits")
        return keys


class Builder(BuildRequest, tfds.core.GeneratorBasedBuilder):
    """NYU Depth v1 + v2 with region-support targets (Algorithm 1)."""

    # New configs leave the existing ones' data unchanged, so they do not bump the version.
    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release: v1, v2, merged and synthetic configs.",
        "1.1.0": "h5 config (sparse-to-dense tree, label-free region support); NYU files recognised by content; "
        "`source` is '<origin>:<region mode>'; no download unless asked.",
    }
    BUILDER_CONFIGS = [
        NyuRegionSupportConfig(
            name="v2",
            description="NYU Depth v2 labelled (1449 frames), official 795/654 split.",
            kind="nyu_mat",
            sources=("v2",),
            split_rule="official",
        ),
        NyuRegionSupportConfig(
            name="v1",
            description="NYU Depth v1 labelled (2284 frames), scene-aware split.",
            kind="nyu_mat",
            sources=("v1",),
            split_rule="scene_aware",
        ),
        NyuRegionSupportConfig(
            name="merged",
            description="v1 + v2 (3747 frames), the paper's scene-aware split (3264/483).",
            kind="nyu_mat",
            sources=("v2", "v1"),
            split_rule="scene_aware",
        ),
        NyuRegionSupportConfig(
            name="h5",
            description=f"Deprecated: the sparse-to-dense NYU v2 h5 tree, now the builder {H5_BUILDER}; this "
            f"name builds the same examples as {H5_BUILDER}/felzenszwalb.",
            kind="nyu_h5",
            sources=("h5",),
            split_rule="h5_tree",
            region_mode=label_free.DEFAULT_LABEL_FREE_MODE,
        ),
        NyuRegionSupportConfig(
            name="synthetic",
            description="Synthetic rooms (200 v2-format + 200 v1-format frames) written in NYU's .mat "
            "layout and read like `merged`; needs no download.",
            kind="synthetic",
            sources=("v2", "v1"),
            split_rule="scene_aware",
            synthetic_frames=(200, 200),
        ),
        NyuRegionSupportConfig(
            name="synthetic_hard",
            description="The hard synthetic world (tfds_nyu.synthetic: appearance independent of class "
            "and distance, rotated furniture, clutter, Kinect-like raw depth in-painted), 200 + 200 frames in "
            "NYU's .mat layout, read like `merged`.",
            kind="synthetic",
            sources=("v2", "v1"),
            split_rule="scene_aware",
            synthetic_frames=(200, 200),
            synthetic_world="hard",
        ),
        NyuRegionSupportConfig(
            name="synthetic_hard_mini",
            description="16 + 16 frames of the hard synthetic world, for tests.",
            kind="synthetic",
            sources=("v2", "v1"),
            split_rule="scene_aware",
            synthetic_frames=(16, 16),
            synthetic_world="hard",
        ),
        NyuRegionSupportConfig(
            name="synthetic_mini",
            description="16 + 16 frames of the simple synthetic world at 96x128 (the tiny preset's size), for "
            "tests and quick demos; builds in seconds.",
            kind="synthetic",
            height=96,
            width=128,
            sources=("v2", "v1"),
            split_rule="scene_aware",
            synthetic_frames=(16, 16),
        ),
    ]
    DEFAULT_CONFIG_NAME = "merged"
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
    {nyu_files.NYU_HOST_STATUS}
    Put the files for your config in the manual dir (any names):
      {FILENAMES["v2"]}  ({nyu_files.EXPECTED["v2"].size:,} bytes)  configs v2, merged
      {FILENAMES["v1"]}  (several GB)  configs v1, merged
      {FILENAMES["splits"]}  ({nyu_files.EXPECTED["splits"].size:,} bytes)  config v2
    The synthetic configs need nothing. The sparse-to-dense h5 tree has its own builder, {H5_BUILDER}
    (config `h5` here still builds it from train/<scene>/*.h5 and val/official/*.h5).
    """

    def __init__(
        self,
        *,
        download: bool = False,
        urls: Mapping[str, str] | None = None,
        skip_bad_frames: bool = False,
        **kwargs,
    ):
        """``download=True`` tries the original URLs (or ``urls``, e.g. a mirror) when files are missing.

        A corrupt frame (NaN, infinite, negative or absurd depth; a class id beyond the names
        table) fails the build with the file, field and frame; ``skip_bad_frames=True`` skips
        it instead, with a warning, and counts it in ``info.metadata["skipped_frames"]``.
        """
        self._download = bool(download)
        self._skip_bad_frames = bool(skip_bad_frames)
        self._urls = {**URLS, **(urls or {})}
        self._mats: MatFrames | None = None  # per build, set in _split_generators
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        return self.dataset_info_from_configs(
            # The h5 tree has no class names (as before), so its label map stays a plain Image.
            features=example_features(config.height, config.width, labeled=config.kind != "nyu_h5"),
            supervised_keys=("image", "depth"),
            homepage="https://cs.nyu.edu/~silberman/datasets/",
            metadata=tfds.core.MetadataDict(),
        )

    # ------------------------------------------------------------------ files

    def _files(self, dl_manager: tfds.download.DownloadManager) -> dict[str, epath.Path]:
        config = self.builder_config
        if config.synthetic:
            world = "" if config.synthetic_world == "simple" else f"_{config.synthetic_world}"
            size = (config.height, config.width)
            at = "" if size == NYU_SIZE else f"_{size[0]}x{size[1]}"  # NYU's size keeps its old folder name
            target = dl_manager.download_dir / (
                f"synthetic{world}_nyu_s{config.synthetic_seed}_v2x{config.synthetic_frames[0]}"
                f"_v1x{config.synthetic_frames[1]}{at}"
            )
            paths = {key: target / FILENAMES[key] for key in ("v2", "v1", "splits")}
            if not all(p.exists() for p in paths.values()):
                log.info("Rendering synthetic NYU-format files into %s", target)
                synthetic.generate(
                    target,
                    *config.synthetic_frames,
                    size=size,
                    seed=config.synthetic_seed,
                    progress=True,
                    world=config.synthetic_world,
                )
            return paths

        needed = config.needed_files()
        manual = manual_dir(dl_manager, self._requested_manual_dir)
        try:
            return nyu_files.locate(manual, needed, config.name)
        except nyu_files.MissingNyuFilesError:
            if not self._download:
                raise
        found, _, _ = nyu_files.scan(manual, needed)
        missing = [k for k in needed if k not in found]
        failures = {k: nyu_files.probe(self._urls[k]) for k in missing}
        failures = {k: why for k, why in failures.items() if why}
        if failures:
            tried = "Tried: " + "; ".join(f"{self._urls[k]}: {why}" for k, why in failures.items())
            raise nyu_files.MissingNyuFilesError(
                nyu_files.missing_files_message(missing, manual, config.name, tried=tried)
            )
        downloaded = dl_manager.download({k: self._urls[k] for k in missing})
        for key, path in downloaded.items():
            kind = nyu_files.identify(path)
            if kind != key:
                raise nyu_mat.NyuFormatError(
                    f"{path} (downloaded from {self._urls[key]}): expected the {key} file, its content is "
                    f"{kind or 'not an NYU file'}"
                )
        return {**found, **downloaded}

    # ------------------------------------------------------------------ splits

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
        self.info.metadata["region_mode"] = config.region_mode
        self.info.metadata["split_rule"] = config.split_rule
        if config.kind == "nyu_h5":
            return self._h5_split_generators(dl_manager)
        files = self._files(dl_manager)
        size = (config.height, config.width)
        names_per_source, scenes = {}, []
        plan: list[tuple[str, int]] = []
        for source in config.sources:
            with nyu_mat.NyuLabeledMat(files[source], source, expected_size=size) as mat:
                names_per_source[source] = mat.names
                plan += [(source, i) for i in range(len(mat))]
                scenes += mat.scenes
        class_names, luts = merge_class_names(names_per_source)
        self.info.metadata["class_names"] = class_names
        set_class_names(self.info.features, class_names)

        if config.split_rule == "official":
            train, test = splits.read_official_split(files["splits"], num_frames=len(plan))
        else:
            is_test = splits.scene_aware_split(scenes)
            train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
        frames = {
            "train": [(*plan[i], scenes[i]) for i in sorted(train)],
            "test": [(*plan[i], scenes[i]) for i in sorted(test)],
        }
        self._mats = MatFrames({s: str(files[s]) for s in config.sources}, size)
        return {split: self._generate_examples(split, items, luts) for split, items in frames.items()}

    def _generate_examples(self, split, frames, luts):
        """One frame at a time (in process or on Beam): read it, remap its labels, run Algorithm 1."""
        make = functools.partial(
            _mat_examples,
            mats=self._mats,
            luts=luts,
            region_mode=self.builder_config.region_mode,
            skip_bad=self._skip_bad_frames,
        )
        return split_examples(frames, make, self._use_beam, split, lambda n: self._record_skipped(split, n))

    def _record_skipped(self, split: str, skipped: int) -> None:
        if self._mats is not None:  # the split is written: free the handles (the next split reopens them)
            self._mats.close()
        self.info.metadata.setdefault("skipped_frames", {})[split] = skipped
        if skipped:
            log.warning(
                "split %s: %d frame(s) skipped (no valid depth, or corrupt with skip_bad_frames)", split, skipped
            )

    # ------------------------------------------------------------------ the h5 tree (deprecated name)

    def _h5_split_generators(self, dl_manager):
        log.warning(
            "nyu_region_support/h5 is deprecated: the h5 tree is the builder %s now (same examples as "
            "%s/felzenszwalb); build that one instead",
            H5_BUILDER,
            H5_BUILDER,
        )
        config = self.builder_config
        return h5_split_generators(
            manual_dir(dl_manager, self._requested_manual_dir),
            self.info.metadata,
            region_mode=config.region_mode,
            size=(config.height, config.width),
            validation_scene_fraction=NyuH5TreeConfig.validation_scene_fraction,
            skip_bad=self._skip_bad_frames,
            use_beam=self._use_beam,
            name=f"{self.name}/{config.name}",
        )


# ---------------------------------------------------------------------- per-item example makers
# Module-level (picklable) so that the Beam route can ship them to workers; the in-process
# route calls the very same functions (tfds_nyu.generation).


class MatFrames:
    """Frames of the NYU .mat files of one build: one validated handle per file, opened on first use.

    Pickling it (Beam ships it to workers) drops the open handles: each copy opens its own.
    """

    def __init__(self, files: dict[str, str], size: tuple[int, int]):
        self.files = dict(files)
        self.size = tuple(size)
        self._open: dict[str, nyu_mat.NyuLabeledMat] = {}

    def frame(self, source: str, index: int) -> nyu_mat.NyuFrame:
        handle = self._open.get(source)
        if handle is None:
            handle = self._open[source] = nyu_mat.NyuLabeledMat(self.files[source], source, expected_size=self.size)
        return handle.frame(index)

    def close(self) -> None:
        while self._open:
            self._open.popitem()[1].close()

    def __getstate__(self) -> dict:
        return {"files": self.files, "size": self.size, "_open": {}}


def _mat_examples(
    item: tuple[str, int, str], mats: MatFrames, luts: dict[str, np.ndarray], region_mode: str, skip_bad: bool = False
) -> list[tuple[str, dict]]:
    source, index, scene = item
    where = f"{mats.files[source]}: frame {index} ({scene})"
    try:
        frame = mats.frame(source, index)
    except nyu_mat.NyuFormatError as error:  # unreadable bytes, or a class id beyond the names table
        if not skip_bad:
            raise
        return bad_frame(where, str(error), skip_bad)
    reason = bad_frame_reason(frame.image, frame.depth)
    if reason:
        return bad_frame(where, reason, skip_bad)
    depth = np.where(frame.depth > 0, frame.depth, 0.0).astype(np.float32)
    if not depth.any():
        log.warning("%s frame %d (%s) has no valid depth: skipped", mats.files[source], index, scene)
        return []
    key = f"{source}_{index:05d}"
    labels = luts[source][frame.labels]
    return [(key, region_support_example(key, frame.image, depth, labels, region_mode, source, scene))]


def merge_class_names(names_per_source: dict[str, list[str]]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Merge the class vocabularies by name (case- and space-insensitive).

    v2's classes keep their official ids (v2 comes first); v1-only classes follow.
    Returns ``class_names`` (index 0 is 'unlabeled', so ``class_names[id]`` is the
    name of id) and, per source, a lookup table from its ids to merged ids.
    """
    merged = [UNLABELED]
    index: dict[str, int] = {}
    for source in sorted(names_per_source, key=lambda s: s != "v2"):
        for name in names_per_source[source]:
            key = " ".join(name.lower().split())
            if key not in index:
                index[key] = len(merged)
                merged.append(name)
    luts = {
        source: np.array([0] + [index[" ".join(n.lower().split())] for n in names], np.uint16)
        for source, names in names_per_source.items()
    }
    return merged, luts
