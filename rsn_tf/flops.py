"""FLOP counting with TensorFlow's own profiler, on a frozen inference graph.

Counts follow the TF profiler's registered statistics: a Conv2D is
2 * k_h * k_w * C_in * C_out * H_out * W_out FLOPs (a multiply and an add per MAC).
Ops without registered statistics (resize, ReLU, ...) count 0, so the figure
is the convolution/matmul work that dominates these networks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

__all__ = ["count_flops", "model_flops", "matmul_peak"]


def count_flops(fn: Callable, input_specs: Sequence[tf.TensorSpec]) -> int:
    """Total float operations of ``fn`` traced on ``input_specs`` (shapes fully defined)."""
    for spec in input_specs:
        if not spec.shape.is_fully_defined():
            raise ValueError(f"input_specs: FLOPs need fully defined shapes, got {spec.shape}")
    concrete = tf.function(fn).get_concrete_function(*input_specs)
    frozen = convert_variables_to_constants_v2(concrete)
    graph_def = frozen.graph.as_graph_def()
    verbosity = tf.compat.v1.logging.get_verbosity()
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)  # the v1 profiler's deprecation notice
    try:
        with tf.Graph().as_default() as graph:
            tf.graph_util.import_graph_def(graph_def, name="")
            options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
            options["output"] = "none"
            profile = tf.compat.v1.profiler.profile(
                graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options
            )
    finally:
        tf.compat.v1.logging.set_verbosity(verbosity)
    return int(profile.total_float_ops)


def model_flops(model: tf.keras.Model, height: int, width: int, batch: int = 1) -> int:
    """Inference FLOPs of an image model for ``batch`` images of height x width."""
    spec = tf.TensorSpec((batch, height, width, 3), tf.float32)

    def forward(image):
        out = model(image, training=False)
        return out["depth"] if isinstance(out, dict) else out

    return count_flops(forward, [spec])


def matmul_peak(n: int = 2048, dtype: str = "float32", repeats: int = 10) -> float:
    """Best dense matmul FLOP/s over ``repeats`` runs of an n x n x n product in ``dtype``: the
    ceiling that benchmarks give achieved FLOP/s against."""
    a = tf.cast(tf.random.normal((n, n)), dtype)
    b = tf.cast(tf.random.normal((n, n)), dtype)
    mm = tf.function(lambda x, y: tf.matmul(x, y))
    mm(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        mm(a, b).numpy()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best
