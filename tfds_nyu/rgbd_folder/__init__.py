"""The `rgbd_folder` TFDS dataset: your own RGB-D frames. Importing this package registers the builder."""

from tfds_nyu.rgbd_folder.rgbd_folder_dataset_builder import Builder

__all__ = ["Builder"]
