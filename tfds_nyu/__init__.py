"""TFDS datasets for NYU Depth v1 + v2 (and your own RGB-D frames) with the paper's region-support targets.

Importing this package registers three builders with TFDS, so that after ``import tfds_nyu``
``tfds.builder("nyu_region_support/merged")``, ``tfds.builder("nyu_h5_tree")`` and
``tfds.builder("rgbd_folder")`` work. Every builder config declares its ``kind``
(nyu_mat, synthetic, nyu_h5, rgbd_folder), ``needs_manual_dir`` and ``height`` x ``width``.
This package never imports ``rsn_tf`` (rsn_tf imports it).

    limits                   MAX_PLAUSIBLE_DEPTH and NYU's frame size: the data's limits, defined once
    nyu_mat                  read (and write) NYU's labelled .mat files, one frame at a time
    splits                   the official v2 split, the paper's scene-aware split, hash hold-outs
    synthetic/               two synthetic worlds sharing one Kinect model, written in NYU's .mat layout
    nyu_h5                   read (and write) the sparse-to-dense NYU h5 tree, one file at a time
    nyu_files                find the user's NYU files by content; say exactly what is missing
    rgbd_frames              read (and write) RGB-D folders: rgb/, depth/, labels/, cameras.json
    kinect_camera            the Kinect colour intrinsics, scaled to any frame size
    region_support           Algorithm 1: regions and region support from a semantic map and depth
    label_free               semantic maps without labels (Felzenszwalb, SLIC, depth only)
    examples                 the feature dict and example maker all builders share
    generation               make a split's examples in process or on Apache Beam
    builder_common           the config fields every builder declares (kind, needs_manual_dir, size)
    nyu_region_support/      the NYU .mat (and synthetic) builder, its README, citations, checksums, dummy data
    nyu_h5_tree/             the builder for the sparse-to-dense h5 tree
    rgbd_folder/             the builder for your own RGB-D folder
"""

from tfds_nyu.nyu_h5_tree import Builder as NyuH5TreeBuilder  # noqa: F401  registers nyu_h5_tree
from tfds_nyu.nyu_region_support import Builder  # noqa: F401  registers the builder
from tfds_nyu.rgbd_folder import Builder as RgbdFolderBuilder  # noqa: F401  registers rgbd_folder

__all__ = ["Builder", "NyuH5TreeBuilder", "RgbdFolderBuilder", "class_names"]


def class_names(info) -> list[str]:
    """The class names of a built dataset (``builder.info``); ``names[0]`` is "unlabeled".

    The one way to read them: the trainer sizes semantic guidance by their count, and the input
    pipeline checks label ids against it. They are the label map's (a LabeledImage's) names;
    datasets built before the label map carried them have them only in ``info.metadata``.
    """
    label = info.features["label"] if info.features and "label" in info.features else None
    names = list(getattr(label, "names", None) or []) if getattr(label, "num_classes", None) else []
    if not names:
        names = list((info.metadata or {}).get("class_names") or [])
    if not names:
        raise ValueError(f"{info.full_name}: the dataset records no class names")
    return names
