"""Optimizers of the trainer: Keras's, with Adam's per-variable update as one fused kernel."""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["FusedAdam"]


class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` whose update of each variable is TensorFlow's ``ResourceApplyAdam`` kernel.

    The formula is Keras's (``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)``; ``m += (g - m)(1 - b1)``;
    ``v += (g^2 - v)(1 - b2)``; ``w -= alpha * m / (sqrt(v) + eps)``), equal to float32 rounding (the
    kernel forms ``1 - b`` in float32, Keras in Python floats), but Keras spells it as a dozen
    graph ops per variable, and tracing and grappler pay for each at every start (the quick start).
    Here the update is one kernel, with the beta powers and casts beside it: for 30 variables the
    traced step has 518 ops against Keras's 1,238. The slots keep Keras's names, so checkpoints written with
    either optimizer restore into the other.
    """

    def update_step(self, gradient, variable, learning_rate):
        # Sparse gradients and AMSGrad have no such kernel here: Keras's own ops.
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index].value, self._velocities[index].value
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        # The handles: under tf.distribute this runs inside strategy.extended.update, where a
        # distributed variable's handle is this replica's copy.
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=m.handle,
            v=v.handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )
