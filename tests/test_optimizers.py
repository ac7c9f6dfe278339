"""FusedAdam is Adam: the update by hand, Keras's checkpoints, tf.distribute, and the ops it saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from rsn_tf.training.optimizers import FusedAdam

SHAPES = [(3, 3, 4, 8), (8,), (5,)]


def _problem(steps: int = 6):
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    # Gradients of very different sizes per variable and step, so that epsilon and the bias
    # corrections both matter.
    grads = [[(rng.normal(size=s) * 10 ** rng.uniform(-4, 1)).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    return weights, grads


def _adam_by_hand(weights, grads, lrs, b1=0.9, b2=0.999, eps=1e-7):
    """Kingma & Ba's Adam with Keras's epsilon placement, in float64."""
    w = [x.astype(np.float64) for x in weights]
    m = [np.zeros_like(x) for x in w]
    v = [np.zeros_like(x) for x in w]
    for t, (g_t, lr) in enumerate(zip(grads, lrs), start=1):
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        for i, g in enumerate(g_t):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            w[i] = w[i] - alpha * m[i] / (np.sqrt(v[i]) + eps)
    return w


def _train(optimizer, weights, grads, jit_compile: bool = False):
    variables = [keras.Variable(x) for x in weights]
    optimizer.build(variables)

    @tf.function(autograph=False, jit_compile=jit_compile)
    def step(g):
        optimizer.apply(g, variables)

    for g in grads:
        step([tf.constant(x) for x in g])
    return variables


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_fused_adam_takes_adams_steps(schedule):
    weights, grads = _problem()
    if schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(3e-3, decay_steps=len(grads))
        lrs = [3e-3 * 0.5 * (1 + np.cos(np.pi * t / len(grads))) for t in range(len(grads))]
    else:
        lr, lrs = 3e-3, [3e-3] * len(grads)
    got = _train(FusedAdam(lr), weights, grads)
    want = _adam_by_hand(weights, grads, lrs)
    for g, w, w0 in zip(got, want, weights):
        # Each step moves a weight by about lr: the match is to float32 rounding of the weights.
        np.testing.assert_allclose(g.numpy(), w, rtol=0, atol=2e-6)
        assert np.abs(w - w0).max() > 1e-3  # they moved


@pytest.mark.parametrize("path", ["xla", "loss_scale", "clipnorm"])
def test_fused_adam_takes_adams_steps_on_the_trainers_other_paths(path):
    # jit_compile (--jit_compile), the LossScaleOptimizer that mixed_float16 wraps it in, and --clipnorm.
    weights, grads = _problem()
    optimizer = FusedAdam(3e-3, clipnorm=0.5) if path == "clipnorm" else FusedAdam(3e-3)
    if path == "loss_scale":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=1.0)  # a scale the steps keep
    applied = grads
    if path == "clipnorm":  # Keras clips each gradient to norm 0.5 before the update
        applied = [[g * min(1.0, 0.5 / np.linalg.norm(g)) for g in step] for step in grads]
        assert any(np.linalg.norm(g) > 1 for step in grads for g in step)  # some are clipped
    got = _train(optimizer, weights, grads, jit_compile=path == "xla")
    for g, w in zip(got, _adam_by_hand(weights, applied, [3e-3] * len(grads))):
        np.testing.assert_allclose(g.numpy(), w, rtol=0, atol=2e-6)


def test_checkpoints_of_keras_adam_restore_into_fused_adam_continue_alike_and_go_back(tmp_path):
    weights, grads = _problem(steps=6)
    keras_opt = keras.optimizers.Adam(3e-3)
    variables = _train(keras_opt, weights, grads[:3])
    path = tf.train.Checkpoint(optimizer=keras_opt, weights=variables).save(str(tmp_path / "ckpt"))

    fused = FusedAdam(3e-3)
    restored = [keras.Variable(np.zeros_like(x)) for x in weights]
    fused.build(restored)
    tf.train.Checkpoint(optimizer=fused, weights=restored).restore(path).assert_consumed()
    assert int(fused.iterations.numpy()) == 3
    for a, b in zip(fused.variables, keras_opt.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    @tf.function(autograph=False)
    def step(g):
        fused.apply(g, restored)

    for g in grads[3:]:
        step([tf.constant(x) for x in g])
    want = _adam_by_hand(weights, grads, [3e-3] * len(grads))
    for g, w in zip(restored, want):
        np.testing.assert_allclose(g.numpy(), w, rtol=0, atol=2e-6)

    # And back: FusedAdam's checkpoint restores into Keras's Adam, every slot included.
    back = tf.train.Checkpoint(optimizer=fused, weights=restored).save(str(tmp_path / "fused"))
    plain = keras.optimizers.Adam(3e-3)
    plain.build([keras.Variable(np.zeros_like(x)) for x in weights])
    tf.train.Checkpoint(optimizer=plain).restore(back).expect_partial().assert_existing_objects_matched()
    assert int(plain.iterations.numpy()) == 6
    for a, b in zip(plain.variables, fused.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def _graph_ops(optimizer) -> int:
    weights, grads = _problem(steps=1)
    variables = [keras.Variable(x) for x in weights * 10]  # 30 variables
    optimizer.build(variables)
    step = tf.function(lambda g: optimizer.apply(g, variables), autograph=False)
    graph = step.get_concrete_function([tf.TensorSpec(v.shape) for v in variables]).graph
    return len(graph.get_operations())


def test_fused_adam_traces_a_fraction_of_keras_adams_ops():
    # The point of it (the quick start): one kernel per variable instead of Keras's ~20 ops.
    fused, plain = _graph_ops(FusedAdam(1e-3)), _graph_ops(keras.optimizers.Adam(1e-3))
    assert fused < 0.5 * plain, (fused, plain)


MIRRORED = textwrap.dedent(
    """
    import json, sys
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from rsn_tf.training.optimizers import FusedAdam
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        w = keras.Variable(np.ones(4, np.float32))
        opt = FusedAdam(0.1)
        opt.build([w])

    @tf.function(autograph=False)
    def step():
        def replica():
            rid = tf.distribute.get_replica_context().replica_id_in_sync_group
            g = tf.cast(rid + 1, tf.float32) * tf.constant([1.0, -2.0, 0.5, 0.0])  # replicas 1x and 2x
            opt.apply([g], [w])
        strategy.run(replica)

    for _ in range(2):
        step()
    print(json.dumps([[float(x) for x in t.numpy()] for t in w.value.values]))
    """
)


def test_fused_adam_under_mirrored_strategy_updates_every_replica_with_the_summed_gradient():
    # A fresh process: logical CPU devices are fixed when TensorFlow starts.
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    replicas = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    g = 3 * np.array([1.0, -2.0, 0.5, 0.0])  # Keras sums the replicas' gradients
    want = _adam_by_hand([np.ones(4, np.float32)], [[g], [g]], [0.1, 0.1])[0]
    assert replicas.shape == (2, 4)
    for copy in replicas:  # both copies, equal, and Adam's
        np.testing.assert_allclose(copy, want, rtol=0, atol=1e-6)
