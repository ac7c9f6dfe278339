"""TFDS datasets for NYU Depth v1 + v2 with the paper's region-support targets.

Importing this package registers the ``nyu_region_support`` builder with TFDS, so that
``tfds.builder("nyu_region_support/merged")`` works after ``import tfds_nyu`` (and ``tfds.builder("rgbd_folder")``).

    nyu_mat                  read (and write) NYU's labelled .mat files, one frame at a time
    splits                   the official v2 split and the paper's scene-aware split
    synthetic                synthetic rooms, written in NYU's exact .mat layout
    nyu_h5                   read (and write) the sparse-to-dense NYU h5 tree, one file at a time
    nyu_files                find the user's NYU files by content; say exactly what is missing
    rgbd_frames              read (and write) RGB-D folders: rgb/, depth/, labels/, cameras.json
    examples                 the feature dict and example maker both builders share
    nyu_region_support/      the NYU TFDS builder, its README, citations, checksums and dummy data
    rgbd_folder/             the TFDS builder for your own RGB-D folder
"""

from tfds_nyu.nyu_region_support import Builder  # noqa: F401  registers the builder
from tfds_nyu.rgbd_folder import Builder as RgbdFolderBuilder  # noqa: F401  registers rgbd_folder

__all__ = ["Builder", "RgbdFolderBuilder", "class_names"]


def class_names(info) -> list[str]:
    """The class names of a built dataset (``builder.info``); ``names[0]`` is "unlabeled".

    The one way to read them: the trainer sizes semantic guidance by their count, and the input
    pipeline checks label ids against it.
    """
    names = (info.metadata or {}).get("class_names")
    if not names:
        raise ValueError(f"{info.full_name}: the dataset records no class names")
    return list(names)
