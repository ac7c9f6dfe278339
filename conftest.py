"""Test-wide setup: keep TensorFlow quiet and single-threaded enough for 2-core CI machines."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
