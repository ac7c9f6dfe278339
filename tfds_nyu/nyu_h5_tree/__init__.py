"""The `nyu_h5_tree` TFDS dataset: the sparse-to-dense NYU h5 tree. Importing this package registers the builder."""

from tfds_nyu.nyu_h5_tree.nyu_h5_tree_dataset_builder import Builder

__all__ = ["Builder"]
