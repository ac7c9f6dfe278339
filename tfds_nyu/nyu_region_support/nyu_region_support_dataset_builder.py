"""nyu_region_support: NYU Depth v1 + v2 labelled frames with the paper's region-support targets.

Every example holds the RGB image, the depth, the semantic labels (class ids
merged by name across v1 and v2) and the targets of Algorithm 1: the
re-segmented ``regions`` and the ``region_support``.

Configs:
  v2         the 1449 v2 frames with NYU's official 795 / 654 split (splits.mat)
  v1         the 2284 v1 frames with the paper's scene-aware split
  merged     v1 + v2 with the paper's scene-aware split (3264 / 483 in proportion)
  h5         the sparse-to-dense / FastDepth h5 tree (train/<scene>/*.h5, val/official/*.h5):
             no labels, so region support comes from Felzenszwalb segments (``tfds_nyu.label_free``);
             whole scenes held out for validation, the official val as test
  synthetic  400 synthetic frames written in NYU's file layout, then read like `merged`
  synthetic_hard       400 frames of the hard synthetic world (tfds_nyu/synthetic_hard.py), read the same way
  synthetic_hard_mini  32 frames of it, for tests

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

from tfds_nyu import label_free, nyu_files, nyu_h5, nyu_mat, splits, synthetic
from tfds_nyu.examples import BadFrameError, bad_frame_reason, example_features, region_support_example
from tfds_nyu.generation import beam_requested, split_examples

URLS = {key: expected.url for key, expected in nyu_files.EXPECTED.items()}
FILENAMES = {key: expected.filename for key, expected in nyu_files.EXPECTED.items()}
HEIGHT, WIDTH = 480, 640
UNLABELED = "unlabeled"
# Whole scenes of the h5 tree's train/ held out as the validation split.
H5_VALIDATION_SCENE_FRACTION = 0.05
# Memory: TFDS's writer keeps up to 1 GB (tfds.core.shuffle.MAX_MEM_BUFFER_SIZE) of serialized
# examples per split in memory before it spills them to disk, and it offers no public knob for
# that limit. An example is ~2 MB, so a split of more than ~500 frames costs ~1 GB of RSS on top
# of the reader's few hundred MB (measured in BENCHMARKS.md). We accept that rather than patch a
# private TFDS constant: it fits every machine we target (24 GB here), and a build that must use
# less goes through Beam, which shuffles on disk.

log = logging.getLogger(__name__)


@dataclasses.dataclass
class NyuRegionSupportConfig(tfds.core.BuilderConfig):
    """Which NYU releases to read, how to split them, and where the semantic map S comes from."""

    sources: tuple[str, ...] = ("v2",)  # v2, v1 (labelled .mat files) or h5 (the sparse-to-dense tree)
    split_rule: str = "official"  # official (v2 splits.mat) | scene_aware (the paper's) | h5_tree
    synthetic_frames: tuple[int, int] = (0, 0)  # (v2, v1) frames to render; (0, 0) = real NYU files
    synthetic_seed: int = 0
    synthetic_world: str = "simple"  # tfds_nyu.synthetic.WORLDS: simple (the demo's) or hard
    region_mode: str = "labels"  # tfds_nyu.label_free.REGION_MODES

    def __post_init__(self):
        label_free.check_region_mode(self.region_mode)
        if "h5" in self.sources and self.region_mode == "labels":
            raise ValueError("region_mode: the h5 tree has no labels; use a label-free mode")

    @property
    def synthetic(self) -> bool:
        return sum(self.synthetic_frames) > 0

    def needed_files(self) -> list[str]:
        keys = list(self.sources)
        if self.split_rule == "official":
            keys.append("splits")
        return keys


class Builder(tfds.core.GeneratorBasedBuilder):
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
            sources=("v2",),
            split_rule="official",
        ),
        NyuRegionSupportConfig(
            name="v1",
            description="NYU Depth v1 labelled (2284 frames), scene-aware split.",
            sources=("v1",),
            split_rule="scene_aware",
        ),
        NyuRegionSupportConfig(
            name="merged",
            description="v1 + v2 (3747 frames), the paper's scene-aware split (3264/483).",
            sources=("v2", "v1"),
            split_rule="scene_aware",
        ),
        NyuRegionSupportConfig(
            name="h5",
            description="The sparse-to-dense NYU v2 h5 tree (~47k train frames, 654 official val frames), no "
            "labels: region support from Felzenszwalb segments of the RGB; scene-held-out validation, official "
            "val as test.",
            sources=("h5",),
            split_rule="h5_tree",
            region_mode=label_free.DEFAULT_LABEL_FREE_MODE,
        ),
        NyuRegionSupportConfig(
            name="synthetic",
            description="Synthetic rooms (200 v2-format + 200 v1-format frames) written in NYU's .mat "
            "layout and read like `merged`; needs no download.",
            sources=("v2", "v1"),
            split_rule="scene_aware",
            synthetic_frames=(200, 200),
        ),
        NyuRegionSupportConfig(
            name="synthetic_hard",
            description="The hard synthetic world (tfds_nyu/synthetic_hard.py: appearance independent of class "
            "and distance, rotated furniture, clutter, Kinect-like raw depth in-painted), 200 + 200 frames in "
            "NYU's .mat layout, read like `merged`.",
            sources=("v2", "v1"),
            split_rule="scene_aware",
            synthetic_frames=(200, 200),
            synthetic_world="hard",
        ),
        NyuRegionSupportConfig(
            name="synthetic_hard_mini",
            description="16 + 16 frames of the hard synthetic world, for tests.",
            sources=("v2", "v1"),
            split_rule="scene_aware",
            synthetic_frames=(16, 16),
            synthetic_world="hard",
        ),
    ]
    DEFAULT_CONFIG_NAME = "merged"
    _use_beam = False  # set per build from the DownloadConfig (tfds_nyu.generation)
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
    {nyu_files.NYU_HOST_STATUS}
    Put the files for your config in the manual dir (any names):
      {FILENAMES["v2"]}  ({nyu_files.EXPECTED["v2"].size:,} bytes)  configs v2, merged
      {FILENAMES["v1"]}  (several GB)  configs v1, merged
      {FILENAMES["splits"]}  ({nyu_files.EXPECTED["splits"].size:,} bytes)  config v2
    Config `h5` wants the sparse-to-dense tree there instead: train/<scene>/*.h5 and val/official/*.h5
    (or a nyudepthv2/ folder holding them). Config `synthetic` needs nothing.
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
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=example_features(HEIGHT, WIDTH),
            supervised_keys=("image", "depth"),
            homepage="https://cs.nyu.edu/~silberman/datasets/",
            metadata=tfds.core.MetadataDict(),
        )

    def _download_and_prepare(self, dl_manager, download_config):
        # From the public DownloadConfig: the manual dir the user asked for (TFDS's
        # dl_manager.manual_dir raises the same AssertionError for "none given" and for
        # "given but empty", which need different answers), and whether to generate on Beam.
        self._requested_manual_dir = download_config.manual_dir
        self._use_beam = beam_requested(download_config)
        return super()._download_and_prepare(dl_manager, download_config)

    # ------------------------------------------------------------------ files

    def _manual_dir(self, dl_manager) -> epath.Path:
        """The manual dir asked for, else TFDS's (``<download_dir>/manual`` unless set otherwise)."""
        requested = getattr(self, "_requested_manual_dir", None)
        if requested:
            return epath.Path(requested)
        try:
            return epath.Path(dl_manager.manual_dir)
        except AssertionError:  # TFDS: its default manual dir is missing or empty; name it in our message
            return epath.Path(dl_manager.download_dir) / "manual"

    def _files(self, dl_manager: tfds.download.DownloadManager) -> dict[str, epath.Path]:
        config = self.builder_config
        if config.synthetic:
            world = "" if config.synthetic_world == "simple" else f"_{config.synthetic_world}"
            target = dl_manager.download_dir / (
                f"synthetic{world}_nyu_s{config.synthetic_seed}_v2x{config.synthetic_frames[0]}"
                f"_v1x{config.synthetic_frames[1]}"
            )
            paths = {key: target / FILENAMES[key] for key in ("v2", "v1", "splits")}
            if not all(p.exists() for p in paths.values()):
                log.info("Rendering synthetic NYU-format files into %s", target)
                synthetic.generate(
                    target,
                    *config.synthetic_frames,
                    size=(HEIGHT, WIDTH),
                    seed=config.synthetic_seed,
                    progress=True,
                    world=config.synthetic_world,
                )
            return paths

        needed = config.needed_files()
        manual = self._manual_dir(dl_manager)
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
        if config.sources == ("h5",):
            return self._h5_split_generators(dl_manager)
        files = self._files(dl_manager)
        names_per_source, scenes = {}, []
        plan: list[tuple[str, int]] = []
        for source in config.sources:
            with nyu_mat.NyuLabeledMat(files[source], source, expected_size=(HEIGHT, WIDTH)) as mat:
                names_per_source[source] = mat.names
                plan += [(source, i) for i in range(len(mat))]
                scenes += mat.scenes
        class_names, luts = merge_class_names(names_per_source)
        self.info.metadata["class_names"] = class_names

        if config.split_rule == "official":
            train, test = splits.read_official_split(files["splits"], num_frames=len(plan))
        else:
            is_test = splits.scene_aware_split(scenes)
            train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
        frames = {
            "train": [(*plan[i], scenes[i]) for i in sorted(train)],
            "test": [(*plan[i], scenes[i]) for i in sorted(test)],
        }
        paths = {s: str(files[s]) for s in config.sources}
        return {split: self._generate_examples(split, items, paths, luts) for split, items in frames.items()}

    def _generate_examples(self, split, frames, files, luts):
        """One frame at a time (in process or on Beam): read it, remap its labels, run Algorithm 1."""
        make = functools.partial(
            _mat_examples,
            files=files,
            luts=luts,
            region_mode=self.builder_config.region_mode,
            skip_bad=self._skip_bad_frames,
        )
        return split_examples(frames, make, self._use_beam, split, lambda n: self._record_skipped(split, n))

    def _record_skipped(self, split: str, skipped: int) -> None:
        _close_mats()
        self.info.metadata.setdefault("skipped_frames", {})[split] = skipped
        if skipped:
            log.warning(
                "split %s: %d frame(s) skipped (no valid depth, or corrupt with skip_bad_frames)", split, skipped
            )

    # ------------------------------------------------------------------ the h5 tree

    def _h5_split_generators(self, dl_manager):
        manual = self._manual_dir(dl_manager)
        root = nyu_h5.find_h5_root(manual) if manual.is_dir() else None
        if root is None:
            held = sorted(p.name for p in manual.iterdir())[:8] if manual.is_dir() else "it does not exist"
            raise nyu_files.MissingNyuFilesError(
                f"nyu_region_support/h5 needs the sparse-to-dense NYU h5 tree in {manual}: train/<scene>/<n>.h5 "
                f"and val/official/<n>.h5, or a nyudepthv2/ folder holding them (it holds: {held}).\n"
                "That tree is the nyudepthv2.tar.gz of sparse-to-dense / FastDepth, also served by several "
                "mirrors; unpack it there and run again:\n"
                f"  rsn-build-dataset --dataset=nyu_region_support/h5 --manual_dir={manual}"
            )
        frames = nyu_h5.scan_h5_tree(root)
        train_scenes = [f.scene for f in frames if f.part == "train"]
        held_out = splits.hash_holdout(train_scenes, H5_VALIDATION_SCENE_FRACTION)
        self.info.metadata["h5_root"] = str(root)
        self.info.metadata["validation_scenes"] = sorted(held_out)
        groups = {
            "train": [f for f in frames if f.part == "train" and f.scene not in held_out],
            "validation": [f for f in frames if f.part == "train" and f.scene in held_out],
            "test": [f for f in frames if f.part == "val"],
        }
        make = functools.partial(
            _h5_examples, region_mode=self.builder_config.region_mode, skip_bad=self._skip_bad_frames
        )
        return {
            split: split_examples(items, make, self._use_beam, split, lambda n, s=split: self._record_skipped(s, n))
            for split, items in groups.items()
            if items
        }


# ---------------------------------------------------------------------- per-item example makers
# Module-level (picklable) so that the Beam route can ship them to workers; the in-process
# route calls the very same functions (tfds_nyu.generation).

_OPEN_MATS: dict[tuple[str, str], nyu_mat.NyuLabeledMat] = {}


def _open_mat(path: str, source: str) -> nyu_mat.NyuLabeledMat:
    """One validated handle per file and process, opened on first use (workers open their own)."""
    handle = _OPEN_MATS.get((path, source))
    if handle is None:
        handle = _OPEN_MATS[(path, source)] = nyu_mat.NyuLabeledMat(path, source, expected_size=(HEIGHT, WIDTH))
    return handle


def _close_mats() -> None:
    while _OPEN_MATS:
        _OPEN_MATS.popitem()[1].close()


def _bad_frame(where: str, reason: str, skip_bad: bool) -> list:
    """Skip (with a warning; counted as skipped) or fail the build on a corrupt frame."""
    if skip_bad:
        log.warning("%s: %s: skipped (skip_bad_frames)", where, reason)
        return []
    raise BadFrameError(
        f"{where}: {reason}. The file is corrupt there: fetch it again, or build with "
        "rsn-build-dataset --skip_bad_frames to skip such frames (they are counted)"
    )


def _mat_examples(item, files: dict[str, str], luts: dict[str, np.ndarray], region_mode: str, skip_bad: bool = False):
    source, index, scene = item
    where = f"{files[source]}: frame {index} ({scene})"
    try:
        frame = _open_mat(files[source], source).frame(index)
    except nyu_mat.NyuFormatError as error:  # unreadable bytes, or a class id beyond the names table
        if not skip_bad:
            raise
        return _bad_frame(where, str(error), skip_bad)
    reason = bad_frame_reason(frame.image, frame.depth)
    if reason:
        return _bad_frame(where, reason, skip_bad)
    depth = np.where(frame.depth > 0, frame.depth, 0.0).astype(np.float32)
    if not depth.any():
        log.warning("%s frame %d (%s) has no valid depth: skipped", files[source], index, scene)
        return []
    key = f"{source}_{index:05d}"
    labels = luts[source][frame.labels]
    return [(key, region_support_example(key, frame.image, depth, labels, region_mode, source, scene))]


def _h5_examples(frame: nyu_h5.H5Frame, region_mode: str, skip_bad: bool = False):
    """One h5 file at a time: memory does not grow with the size of the tree."""
    image, depth = nyu_h5.read_h5_frame(frame.path)
    reason = bad_frame_reason(image, depth)
    if reason:
        return _bad_frame(str(frame.path), reason, skip_bad)
    if depth.shape != (HEIGHT, WIDTH):
        raise nyu_h5.NyuH5Error(f"{frame.path}: {depth.shape[0]}x{depth.shape[1]}, expected {HEIGHT}x{WIDTH}")
    if not depth.any():
        log.warning("%s has no valid depth: skipped", frame.path)
        return []
    return [(frame.key, region_support_example(frame.key, image, depth, None, region_mode, "h5", frame.scene))]


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
