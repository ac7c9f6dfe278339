"""nyu_region_support: NYU Depth v1 + v2 labelled frames with the paper's region-support targets.

Every example holds the RGB image, the depth, the semantic labels (class ids
merged by name across v1 and v2) and the targets of Algorithm 1: the
re-segmented ``regions`` and the ``region_support``.

Configs:
  v2         the 1449 v2 frames with NYU's official 795 / 654 split (splits.mat)
  v1         the 2284 v1 frames with the paper's scene-aware split
  merged     v1 + v2 with the paper's scene-aware split (3264 / 483 in proportion)
  synthetic  400 synthetic frames written in NYU's file layout, then read like `merged`

Build: ``tfds build tfds_nyu/nyu_region_support --config=merged --manual_dir=DIR``.
"""

from __future__ import annotations

import dataclasses
import logging

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from rsn_tf.region_support import region_support
from tfds_nyu import nyu_mat, splits, synthetic

URLS = {
    "v2": "http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/nyu_depth_v2_labeled.mat",
    "v1": "http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_data_labeled.mat",
    "splits": "http://horatio.cs.nyu.edu/mit/silberman/indoor_seg_sup/splits.mat",
}
FILENAMES = {"v2": nyu_mat.V2_FILENAME, "v1": nyu_mat.V1_FILENAME, "splits": nyu_mat.SPLITS_FILENAME}
HEIGHT, WIDTH = 480, 640
UNLABELED = "unlabeled"
# Memory: TFDS's writer keeps up to 1 GB (tfds.core.shuffle.MAX_MEM_BUFFER_SIZE) of serialized
# examples per split in memory before it spills them to disk, and it offers no public knob for
# that limit. An example is ~2 MB, so a split of more than ~500 frames costs ~1 GB of RSS on top
# of the reader's few hundred MB (measured in BENCHMARKS.md). We accept that rather than patch a
# private TFDS constant: it fits every machine we target (24 GB here), and a build that must use
# less goes through Beam, which shuffles on disk.

log = logging.getLogger(__name__)


@dataclasses.dataclass
class NyuRegionSupportConfig(tfds.core.BuilderConfig):
    """Which NYU releases to read and how to split them."""

    sources: tuple[str, ...] = ("v2",)
    split_rule: str = "official"  # official (v2 splits.mat) | scene_aware (the paper's)
    synthetic_frames: tuple[int, int] = (0, 0)  # (v2, v1) frames to render; (0, 0) = real NYU files
    synthetic_seed: int = 0

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

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: v1, v2, merged and synthetic configs."}
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
            name="synthetic",
            description="Synthetic rooms (200 v2-format + 200 v1-format frames) written in NYU's .mat "
            "layout and read like `merged`; needs no download.",
            sources=("v2", "v1"),
            split_rule="scene_aware",
            synthetic_frames=(200, 200),
        ),
    ]
    DEFAULT_CONFIG_NAME = "merged"
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
    Put the NYU Depth labelled files in the manual dir (or leave --manual_dir unset to download
    them from the official URLs):
      {FILENAMES["v2"]}   (2.8 GB)  {URLS["v2"]}
      {FILENAMES["v1"]}   (several GB)  {URLS["v1"]}
      {FILENAMES["splits"]}  (v2 config only)  {URLS["splits"]}
    Config `v2` needs the v2 file and splits.mat, `v1` the v1 file, `merged` both .mat files,
    `synthetic` nothing.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(HEIGHT, WIDTH, 3)),
                    "depth": tfds.features.Tensor(shape=(HEIGHT, WIDTH), dtype=np.float32, encoding="zlib"),
                    "label": tfds.features.Image(shape=(HEIGHT, WIDTH, 1), dtype=np.uint16),
                    "regions": tfds.features.Tensor(shape=(HEIGHT, WIDTH), dtype=np.int32, encoding="zlib"),
                    "region_support": tfds.features.Tensor(shape=(HEIGHT, WIDTH), dtype=np.float32, encoding="zlib"),
                    "scene": tfds.features.Text(),
                    "source": tfds.features.Text(),
                    "key": tfds.features.Text(),
                }
            ),
            supervised_keys=("image", "depth"),
            homepage="https://cs.nyu.edu/~silberman/datasets/",
            metadata=tfds.core.MetadataDict(),
        )

    def _download_and_prepare(self, dl_manager, download_config):
        # The manual dir the user asked for, from the public DownloadConfig: TFDS's
        # dl_manager.manual_dir raises the same AssertionError for "none given" (it then
        # defaults to <download_dir>/manual) and for "given but empty", which need different
        # answers (download, or say what to put there).
        self._requested_manual_dir = download_config.manual_dir
        return super()._download_and_prepare(dl_manager, download_config)

    # ------------------------------------------------------------------ files

    def _files(self, dl_manager: tfds.download.DownloadManager) -> dict[str, epath.Path]:
        config = self.builder_config
        if config.synthetic:
            target = dl_manager.download_dir / (
                f"synthetic_nyu_s{config.synthetic_seed}_v2x{config.synthetic_frames[0]}_v1x{config.synthetic_frames[1]}"
            )
            paths = {key: target / FILENAMES[key] for key in ("v2", "v1", "splits")}
            if not all(p.exists() for p in paths.values()):
                log.info("Rendering synthetic NYU-format files into %s", target)
                synthetic.generate(
                    target, *config.synthetic_frames, size=(HEIGHT, WIDTH), seed=config.synthetic_seed, progress=True
                )
            return paths

        needed = config.needed_files()
        manual = self._manual_dir(dl_manager)
        if manual is None:
            return dl_manager.download({key: URLS[key] for key in needed})
        missing = [FILENAMES[k] for k in needed if not (manual / FILENAMES[k]).exists()]
        if missing:
            present = sorted(p.name for p in manual.iterdir())
            raise FileNotFoundError(
                f"Manual dir {manual} lacks {missing} for config '{config.name}' "
                f"(it holds {present or 'no files'}). Put the files there, or build without "
                f"--manual_dir to download them.\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}"
            )
        return {k: manual / FILENAMES[k] for k in needed}

    def _manual_dir(self, dl_manager) -> epath.Path | None:
        """The manual dir if it has files; None when none was given (then we download)."""
        try:
            return epath.Path(dl_manager.manual_dir)
        except AssertionError as error:  # TFDS raises when it is missing *or* empty
            requested = getattr(self, "_requested_manual_dir", None)
            if requested and epath.Path(requested).exists():
                raise FileNotFoundError(
                    f"Manual dir {requested} has no files. Put the NYU .mat files there, or build without "
                    "--manual_dir to download them from the official URLs."
                ) from error
            return None

    # ------------------------------------------------------------------ splits

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
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
        self.info.metadata["split_rule"] = config.split_rule

        if config.split_rule == "official":
            train, test = splits.read_official_split(files["splits"], num_frames=len(plan))
        else:
            is_test = splits.scene_aware_split(scenes)
            train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
        frames = {
            "train": [(*plan[i], scenes[i]) for i in sorted(train)],
            "test": [(*plan[i], scenes[i]) for i in sorted(test)],
        }
        return {
            split: self._generate_examples(split, items, {s: files[s] for s in config.sources}, luts)
            for split, items in frames.items()
        }

    def _generate_examples(self, split, frames, files, luts):
        """Stream one frame at a time: read it, remap its labels, compute Algorithm 1's targets."""
        skipped = 0
        handles = {
            source: nyu_mat.NyuLabeledMat(path, source, expected_size=(HEIGHT, WIDTH)) for source, path in files.items()
        }
        try:
            for source, index, scene in frames:
                frame = handles[source].frame(index)
                depth = np.where(np.isfinite(frame.depth) & (frame.depth > 0), frame.depth, 0.0).astype(np.float32)
                if not depth.any():
                    skipped += 1
                    log.warning("%s frame %d (%s) has no valid depth: skipped", files[source], index, scene)
                    continue
                labels = luts[source][frame.labels]
                targets = region_support(labels, depth)
                key = f"{source}_{index:05d}"
                yield (
                    key,
                    {
                        "image": encode_png(frame.image),
                        "depth": depth,
                        "label": labels[..., None],
                        "regions": targets.regions,
                        "region_support": targets.region_support,
                        "scene": scene,
                        "source": source,
                        "key": key,
                    },
                )
        finally:
            for handle in handles.values():
                handle.close()
        self.info.metadata.setdefault("skipped_frames", {})[split] = skipped
        if skipped:
            log.warning("split %s: %d frame(s) without valid depth were skipped", split, skipped)


def encode_png(rgb: np.ndarray) -> bytes:
    """Lossless PNG bytes of an RGB image: OpenCV at compression 1 is ~10x faster than TF's default."""
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError(f"image: PNG encoding failed for an array of shape {rgb.shape}")
    return buffer.tobytes()


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
