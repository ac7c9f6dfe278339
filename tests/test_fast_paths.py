"""The training step's fast paths compute what the plain Keras layers compute, and the precision
``auto`` picks bfloat16 exactly where the CPU runs it natively."""

from __future__ import annotations

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from rsn_tf import hardware, runtime
from rsn_tf.models.layers import BatchNorm


def _bn_outputs(layer_class, x, dtype: str):
    keras.utils.set_random_seed(0)
    layer = layer_class(
        momentum=0.9,
        epsilon=1e-5,
        synchronized=True,
        dtype=dtype,
        gamma_initializer="random_normal",
        beta_initializer="random_normal",
    )
    layer.build(x.shape)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 3)  # a gradient that is not uniform
    grads = tape.gradient(loss, [x, *layer.trainable_variables])
    return [np.float32(t) for t in (y, *grads, layer.moving_mean, layer.moving_variance)]


@pytest.mark.parametrize("channels", [7, 16])
def test_fused_batch_norm_matches_keras_forward_gradients_and_moving_statistics(channels):
    x = tf.constant(np.random.default_rng(0).normal(2.0, 3.0, (4, 5, 6, channels)).astype(np.float32))
    ours = _bn_outputs(BatchNorm, x, "float32")
    reference = _bn_outputs(keras.layers.BatchNormalization, x, "float32")
    names = ["output", "d input", "d gamma", "d beta", "moving mean", "moving variance"]
    for name, got, want in zip(names, ours, reference):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max(), err_msg=name)
    # By hand: the moving variance averages the biased batch variance (Keras's), not the unbiased one.
    biased = x.numpy().reshape(-1, channels).var(axis=0)
    np.testing.assert_allclose(ours[5], 0.9 * 1.0 + 0.1 * biased, rtol=1e-5)


def test_fused_batch_norm_in_bfloat16_matches_keras_at_16_channels():
    x = tf.constant(np.random.default_rng(1).normal(0.5, 2.0, (4, 5, 6, 16)).astype(np.float32))
    ours = _bn_outputs(BatchNorm, x, "mixed_bfloat16")
    reference = _bn_outputs(keras.layers.BatchNormalization, x, "mixed_bfloat16")
    for got, want in zip(ours, reference):  # bfloat16 outputs: agreement to its 8 bits of mantissa
        np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-2 * np.abs(want).max())


def test_inference_and_frozen_batch_norm_use_the_moving_statistics():
    x = tf.constant(np.random.default_rng(2).normal(1.0, 2.0, (2, 3, 4, 8)).astype(np.float32))
    layer = BatchNorm(epsilon=1e-5)
    layer.build(x.shape)
    layer.moving_mean.assign(np.full(8, 0.5, np.float32))
    layer.moving_variance.assign(np.full(8, 4.0, np.float32))
    expected = (x.numpy() - 0.5) / np.sqrt(4.0 + 1e-5)  # gamma 1, beta 0
    np.testing.assert_allclose(layer(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-6)
    layer.trainable = False
    np.testing.assert_allclose(layer(x, training=True).numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), np.full(8, 0.5, np.float32))  # not updated


@pytest.mark.parametrize(
    ("features", "onednn", "expected"),
    [
        (("AMX-BF16", "AVX512-BF16"), "1", "mixed_bfloat16"),
        (("AVX512-BF16",), None, "mixed_bfloat16"),
        ((), "1", "float32"),  # an AVX2 machine
        (("AMX-BF16",), "0", "float32"),  # oneDNN off (deterministic runs): bfloat16 would run through Eigen
    ],
)
def test_auto_precision_is_bfloat16_only_where_the_cpu_runs_it_natively(monkeypatch, features, onednn, expected):
    monkeypatch.setattr(hardware, "cpu_bf16_features", lambda: features)
    monkeypatch.setattr(runtime, "cpu_bf16_features", lambda: features)
    if onednn is None:
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    else:
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", onednn)
    policy, why = runtime.resolve_precision("auto")
    assert policy == expected
    assert why.startswith("auto:")
    assert runtime.resolve_precision("float32") == ("float32", "as configured")


def test_cpu_features_are_read_from_the_flags_line(tmp_path, monkeypatch):
    text = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile amx_bf16\n"
    real_open = open

    def fake_open(path, *args, **kwargs):
        return real_open(tmp_path / "cpuinfo", *args, **kwargs) if path == "/proc/cpuinfo" else real_open(path)

    (tmp_path / "cpuinfo").write_text(text)
    hardware.cpu_bf16_features.cache_clear()
    monkeypatch.setattr("builtins.open", fake_open)
    try:
        assert hardware.cpu_bf16_features() == ("AMX-BF16", "AVX512-BF16")
        (tmp_path / "cpuinfo").write_text("flags\t\t: fpu sse avx2 fma\n")
        hardware.cpu_bf16_features.cache_clear()
        assert hardware.cpu_bf16_features() == ()
    finally:
        monkeypatch.undo()
        hardware.cpu_bf16_features.cache_clear()


# ------------------------------------------------------------------ rematerialisation (--remat)


def _joint_step(trunk: bool, refinement: bool, calls: list[str]):
    """Gradients and moving statistics of one training pass of a tiny RSN (both modules), with the
    residual blocks' and the refinement iterations' forward calls counted (at trace time)."""
    from rsn_tf.models import RefinementModule, RegionSupportNetwork, get_preset
    from rsn_tf.models.layers import BasicBlock

    keras.utils.set_random_seed(3)
    model = RegionSupportNetwork(get_preset("tiny", height=24, width=32))
    model.build()
    model.rematerialise(trunk=trunk, refinement=refinement)
    x = tf.constant(np.random.default_rng(3).uniform(0, 255, (2, 24, 32, 3)).astype(np.float32))
    plain_block, plain_iteration = BasicBlock.call, RefinementModule.refine_once

    def block(self, inputs, training=None):
        calls.append("block")
        return plain_block(self, inputs, training=training)

    def iteration(self, *args, **kwargs):
        calls.append("iteration")
        return plain_iteration(self, *args, **kwargs)

    @tf.function(autograph=False)
    def step(image):
        with tf.GradientTape() as tape:
            out = model(image, training=True)
            loss = tf.reduce_sum(tf.square(out["region_support"] - 3.0)) + tf.reduce_sum(tf.square(out["depth"] - 3.0))
        return tape.gradient(loss, model.trainable_variables)

    BasicBlock.call, RefinementModule.refine_once = block, iteration
    try:
        grads = step(x)
    finally:
        BasicBlock.call, RefinementModule.refine_once = plain_block, plain_iteration
    statistics = [v for v in model.non_trainable_variables if "moving" in v.path]
    return [g.numpy() for g in grads], [v.numpy() for v in statistics], len(model.generation.trunk)


@functools.cache
def _plain_joint_step():
    """``_joint_step`` without rematerialisation, and its calls: the reference both --remat modes share."""
    calls: list[str] = []
    return (*_joint_step(False, False, calls), calls)


@pytest.mark.parametrize("refinement", [False, True], ids=["trunk", "all"])  # the --remat modes
def test_remat_recomputes_in_the_backward_pass_and_gives_the_same_gradients_and_statistics(refinement):
    remat_calls = []
    plain_grads, plain_stats, blocks, plain_calls = _plain_joint_step()
    remat_grads, remat_stats, _ = _joint_step(True, refinement, remat_calls)
    assert plain_calls.count("block") == blocks and plain_calls.count("iteration") == 3
    # Each rematerialised part runs forward, then once more in the backward pass.
    assert remat_calls.count("block") == 2 * blocks
    assert remat_calls.count("iteration") == (6 if refinement else 3)
    assert len(remat_grads) == len(plain_grads)
    for got, want in zip(remat_grads, plain_grads):  # float noise: the recomputation's sums run in another order
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    # The recomputation must not average the batch into the moving statistics a second time.
    for got, want in zip(remat_stats, plain_stats):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


# 4-D: the fused single-replica path; 3-D: Keras's path, the one several replicas take.
@pytest.mark.parametrize("shape", [(3, 4, 5, 8), (3, 20, 8)])
def test_batch_norm_recomputed_for_the_backward_pass_normalises_with_batch_statistics_and_leaves_the_moving_ones(
    shape,
):
    from rsn_tf.models.layers import _recompute_scope

    x = tf.constant(np.random.default_rng(4).normal(1.5, 2.0, shape).astype(np.float32))
    keras.utils.set_random_seed(0)
    layer = BatchNorm(momentum=0.9, epsilon=1e-5, synchronized=True, gamma_initializer="random_normal")
    layer.build(x.shape)
    with _recompute_scope(True):
        y = layer(x, training=True).numpy()
    np.testing.assert_array_equal(layer.moving_mean.numpy(), np.zeros(8, np.float32))
    np.testing.assert_array_equal(layer.moving_variance.numpy(), np.ones(8, np.float32))
    flat = x.numpy().reshape(-1, 8)  # by hand: batch statistics, biased variance
    want = (x.numpy() - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5) * layer.gamma.numpy() + layer.beta.numpy()
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
