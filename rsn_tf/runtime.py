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

from rsn_tf.hardware import DETERMINISTIC_ENV, cpu_bf16_features, onednn_enabled

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

    Op determinism alone is not enough on CPU. Without oneDNN's optimisations off and one inter-op
    thread (``DETERMINISTIC_ENV``, read when TensorFlow is imported, so rsn-train sets it before
    importing it), a replay's gradients differ in the last bits from the first step on, which
    Adam's first steps amplify to about 1e-4 relative in the weights and test metrics (measured).
    With all three, replays were bit-identical in every run we measured; 1e-5 relative is what
    tests/test_training.py holds them to.
    """
    if not enabled:
        return
    tf.config.experimental.enable_op_determinism()
    wrong = [f"{k}={v}" for k, v in DETERMINISTIC_ENV.items() if os.environ.get(k) != v]
    if "TF_NUM_INTEROP_THREADS" not in os.environ:  # unset, not set otherwise by hand: set it here if still possible
        try:
            tf.config.threading.set_inter_op_parallelism_threads(1)
            wrong.remove("TF_NUM_INTEROP_THREADS=1")
        except RuntimeError:  # the runtime has started: only the env var could have set it
            pass
    if wrong:
        import warnings

        warnings.warn(
            f"deterministic: TensorFlow started without {' and '.join(wrong)}; replays may differ at float-noise "
            "level (rsn-train sets them before importing TensorFlow unless they are set otherwise)",
            stacklevel=2,
        )


def inference_function(model: keras.Model, jit_compile: bool = False) -> Callable:
    """A compiled ``image -> outputs`` function (``jit_compile=True`` for XLA)."""
    return tf.function(lambda image: model(image, training=False), jit_compile=jit_compile)
