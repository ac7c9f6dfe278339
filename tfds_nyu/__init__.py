"""TFDS datasets for NYU Depth v1 + v2 with the paper's region-support targets.

Importing this package registers the ``nyu_region_support`` builder with TFDS, so that
``tfds.builder("nyu_region_support/merged")`` works after ``import tfds_nyu``.

    nyu_mat                  read (and write) NYU's labelled .mat files, one frame at a time
    splits                   the official v2 split and the paper's scene-aware split
    synthetic                synthetic rooms, written in NYU's exact .mat layout
    nyu_region_support/      the TFDS builder, its README, citations, checksums and dummy data
"""

from tfds_nyu.nyu_region_support import Builder  # noqa: F401  registers the builder

__all__ = ["Builder"]
