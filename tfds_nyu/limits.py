"""Facts about the data that builders and the input pipeline check against, each defined once here.

``rsn_tf`` imports them from here (``from tfds_nyu.limits import MAX_PLAUSIBLE_DEPTH``);
this module imports nothing heavy, so reading a constant costs no TensorFlow import.
"""

from __future__ import annotations

__all__ = ["MAX_PLAUSIBLE_DEPTH", "NYU_SIZE"]

MAX_PLAUSIBLE_DEPTH = 100.0  # metres; NYU's Kinect reads to ~10 m: anything past this is corruption
NYU_SIZE = (480, 640)  # (height, width) of every frame in NYU's .mat files and the sparse-to-dense h5 tree
