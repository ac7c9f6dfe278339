"""Run-time switches: numeric precision and XLA compilation.

Precision is a Keras global dtype policy: variables stay float32, and layers
compute in bfloat16 or float16. The modules' last convs are pinned to float32, so
depth outputs are always float32. XLA is a property of the compiled function.
See BENCHMARKS.md for what each switch buys on CPU.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import keras
import tensorflow as tf

from rsn_tf.hardware import cpu_bf16_features, onednn_enabled

__all__ = ["PRECISIONS", "resolve_precision", "set_precision", "set_determinism", "inference_function"]

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def resolve_precision(name: str) -> tuple[str, str]:
    """``(policy, why)``: ``auto`` is mixed_bfloat16 on a CPU that runs bfloat16 natively (AMX-BF16 or
    AVX512-BF16, with oneDNN on) and no GPU, else float32; any other name stands as given."""
    if name not in PRECISIONS:
        raise ValueError(f"precision: expected one of {PRECISIONS}, got {name!r}")
    if name != "auto":
        return name, "as configured"
    if tf.config.list_physical_devices("GPU"):
        return "float32", "auto: a GPU is present (bfloat16 there is not measured yet)"
    features = cpu_bf16_features()
    if not features:
        return "float32", "auto: this CPU has no AMX-BF16 or AVX512-BF16"
    if not onednn_enabled():
        return "float32", "auto: TF_ENABLE_ONEDNN_OPTS=0 (deterministic runs), so bfloat16 would not run natively"
    return "mixed_bfloat16", f"auto: this CPU has {' and '.join(features)}"


def set_precision(name: str) -> str:
    """Set the global Keras dtype policy (``auto`` resolved); returns the policy. Call it before
    building a model."""
    policy, _ = resolve_precision(name)
    keras.mixed_precision.set_global_policy(policy)
    return policy


def set_determinism(enabled: bool) -> None:
    """Deterministic kernels everywhere (TF raises for an op that has none), or TF's default.

    Without it, oneDNN's kernels may sum in a different order from run to run: a replay then
    differs at float-noise level, which Adam's first steps amplify to about 1e-4 relative in the
    test metrics (measured). Op determinism alone is not enough on CPU: oneDNN's optimisations
    must be off too, and that is an environment variable (TF_ENABLE_ONEDNN_OPTS=0) read when
    TensorFlow is imported, so rsn-train sets it before it imports TensorFlow. Both together make
    a replay bit-identical in nearly every run here; in our CI runs a metric differed once by
    5e-9 and once (run alone, 2026-12-01) by 1.3e-6 relative, so what we promise is 1e-5
    (tests/test_training.py), still ten times below a non-deterministic replay's 1e-4.
    """
    if enabled:
        if os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0":
            import warnings

            warnings.warn(
                "deterministic: TensorFlow was imported with oneDNN optimisations on; set TF_ENABLE_ONEDNN_OPTS=0 "
                "before importing it (rsn-train does) for replays identical to float noise",
                stacklevel=2,
            )
        tf.config.experimental.enable_op_determinism()


def inference_function(model: keras.Model, jit_compile: bool = False) -> Callable:
    """A compiled ``image -> outputs`` function (``jit_compile=True`` for XLA)."""
    return tf.function(lambda image: model(image, training=False), jit_compile=jit_compile)
