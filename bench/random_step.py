"""The trainer's joint-stage step on random in-memory batches, for the benchmarks that time the
step itself rather than the input pipeline (``bench/gpu.py``, ``bench/remat.py``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from rsn_tf.training.task import RSNTask


def random_batch(batch: int, height: int, width: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A batch with every input the joint stage reads: images, depth in 1-8 m, its rounded
    depth as region support and regions, and one class everywhere."""
    rng = np.random.default_rng(seed)
    depth = rng.uniform(1, 8, (batch, height, width, 1)).astype(np.float32)
    return {
        "image": rng.uniform(0, 255, (batch, height, width, 3)).astype(np.float32),
        "depth": depth,
        "region_support": np.round(depth),
        "regions": np.round(depth).astype(np.int32),
        "label": np.ones((batch, height, width, 1), np.int32),
    }


def joint_train_step(
    task: RSNTask, strategy: tf.distribute.Strategy, xla: bool = False
) -> tuple[Callable[[], tf.Tensor], object]:
    """``(step, model)``: ``step()`` runs one of ``task``'s train steps (forward, backward, the
    optimizer's update) on a fixed random global batch over ``strategy``'s replicas and returns
    the loss. The batch is ``task.config.data.batch_size`` images at ``task.size``."""
    with strategy.scope():
        model = task.build_model()
        optimizer = task.build_optimizer(100)
        optimizer.build(model.trainable_variables)
    data = random_batch(task.config.data.batch_size, *task.size)
    iterator = iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(data).repeat()))

    @tf.function(jit_compile=xla, autograph=False)
    def replica_step(batch):
        return task.train_step(batch, model, optimizer, tf.constant(True), tf.constant(False))["total"]

    @tf.function(autograph=False)
    def step(it):
        return strategy.reduce("SUM", strategy.run(replica_step, args=(next(it),)), axis=None)

    return (lambda: step(iterator)), model
