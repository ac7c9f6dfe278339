"""The `nyu_region_support` TFDS dataset. Importing this package registers the builder."""

from tfds_nyu.nyu_region_support.nyu_region_support_dataset_builder import Builder

__all__ = ["Builder"]
