"""RSN-TF: Region Support Network for single-image depth, in TensorFlow/Keras.

Modules:
  region_support  Algorithm 1: re-segmented regions I and region support R.
  losses          L2 (eq. 1), region loss Lr (eq. 2), iterative Li (eq. 3), combined Lc (eq. 4).
  metrics         NYU depth metrics (Table 2), numpy and streaming Keras.
"""

__version__ = "0.1.0"
