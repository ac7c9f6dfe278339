"""Run-time switches: numeric precision and XLA compilation.

Precision is a Keras global dtype policy: variables stay float32, and layers
compute in bfloat16 or float16. The modules' last convs are pinned to float32, so
depth outputs are always float32. XLA is a property of the compiled function.
See BENCHMARKS.md for what each switch buys on CPU.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

__all__ = ["PRECISIONS", "set_precision", "inference_function"]

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def set_precision(name: str) -> None:
    """Set the global Keras dtype policy. Call it before building a model."""
    if name not in PRECISIONS:
        raise ValueError(f"precision: expected one of {PRECISIONS}, got {name!r}")
    keras.mixed_precision.set_global_policy(name)


def inference_function(model: keras.Model, jit_compile: bool = False) -> Callable:
    """A compiled ``image -> outputs`` function (``jit_compile=True`` for XLA)."""
    return tf.function(lambda image: model(image, training=False), jit_compile=jit_compile)
