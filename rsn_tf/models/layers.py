"""Building blocks of the two pyramid networks (Figure 2, Table 1).

Every layer is small, registered for ``.keras`` serialisation, has ``get_config``
and works for any input height and width (odd sizes included).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence

import keras
import tensorflow as tf

from rsn_tf.hardware import native_bf16

__all__ = [
    "BatchNorm",
    "rematerialised",
    "ConvBNReLU",
    "batch_norm",
    "BasicBlock",
    "PyramidPoolingUnit",
    "CropToMatch",
    "SemanticEmbedding",
    "PAPER_PYRAMID_SCALES",
    "BuildsOnFirstCall",
]

# The pyramid pooling scales of the paper (Section 3.1, Figure 2).
PAPER_PYRAMID_SCALES: tuple[float, ...] = (1 / 2, 1 / 4, 1 / 8, 1 / 10, 1 / 20, 1 / 40, 1 / 80, 1 / 160)

_PACKAGE = "rsn_tf"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BatchNorm(keras.layers.BatchNormalization):
    """Keras BatchNormalization (the same variables, config and statistics) with a faster
    single-replica training path.

    Keras computes training-mode BN from separate ops (a count tensor of ones, a sum, a sum of
    squares, the normalisation, each a pass over memory, and as many again backwards); with
    one replica in sync this runs TF's fused kernel instead, one op forwards and one
    backwards. The moving statistics are Keras's own: the fused kernel returns the unbiased
    batch variance, which is scaled back to the biased one Keras averages. Several replicas
    keep Keras's synchronised path, which all-reduces the statistics.
    """

    def call(self, inputs, training=None, mask=None):
        replica = tf.distribute.get_replica_context()
        single = replica is None or replica.num_replicas_in_sync == 1
        fused = training and self.trainable and single and mask is None and len(inputs.shape) == 4
        if not fused or self.axis not in (-1, 3):  # NHWC only
            if training and self.trainable and _recomputing():
                return self._normalise_without_updates(inputs, mask)
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else tf.ones((channels,), tf.float32)
        beta = self.beta if self.center else tf.zeros((channels,), tf.float32)
        # Statistics are float32 either way. oneDNN's bfloat16 kernel is faster than casting to float32
        # and back when the channels are a multiple of 16, and 5-17x slower otherwise (bench/step_profile.py).
        x = inputs if inputs.dtype == tf.bfloat16 and channels % 16 == 0 else tf.cast(inputs, tf.float32)
        outputs, mean, unbiased = tf.compat.v1.nn.fused_batch_norm(
            x, tf.cast(gamma, tf.float32), tf.cast(beta, tf.float32), epsilon=self.epsilon, is_training=True
        )
        if _recomputing():  # the backward pass of ``rematerialised``: this batch is averaged in already
            return tf.cast(outputs, self.compute_dtype)
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), tf.float32)
        variance = unbiased * tf.math.divide_no_nan(count - 1.0, count)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(outputs, self.compute_dtype)

    def _normalise_without_updates(self, inputs, mask):
        """Training-mode BN (batch statistics, synchronised across replicas as configured) that
        leaves the moving statistics alone: the recomputed forward pass of ``rematerialised``
        must not average the same batch in twice."""
        x = tf.cast(inputs, tf.float32)
        mean, variance = self._moments(x, mask)
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else None
        beta = tf.cast(self.beta, tf.float32) if self.center else None
        outputs = keras.ops.batch_normalization(x, mean, variance, self.axis, beta, gamma, self.epsilon)
        return tf.cast(outputs, self.compute_dtype)


_RECOMPUTE = threading.local()


def _recomputing() -> bool:
    return getattr(_RECOMPUTE, "active", False)


@contextlib.contextmanager
def _recompute_scope(active: bool) -> Iterator[None]:
    previous, _RECOMPUTE.active = _recomputing(), active
    try:
        yield
    finally:
        _RECOMPUTE.active = previous


def rematerialised(fn: Callable[..., tf.Tensor], *inputs: tf.Tensor) -> tf.Tensor:
    """``fn(*inputs)`` (a training-mode forward pass) with gradient checkpointing: what ``fn``
    computes is not kept for the backward pass but recomputed from ``inputs`` there
    (``tf.recompute_grad``), so only the inputs stay in memory. The same arithmetic: gradients
    equal the plain call's to float noise, and the recomputation does not update BatchNorm's
    moving statistics a second time."""
    calls = 0

    def forward(*args):
        nonlocal calls
        calls += 1  # the first call is the forward pass, the next the backward pass's recomputation
        with _recompute_scope(calls > 1):
            return fn(*args)

    return tf.recompute_grad(forward)(*inputs)


def _example_image_shape(build_config: dict | None) -> tuple[int, ...] | None:
    """The image shape a saved module was built with (Keras's build config), unknown sizes made
    concrete (batch 1, 16 pixels)."""
    if not build_config:
        return None
    shape = build_config.get("input_shape")
    if shape is None:
        shapes = build_config.get("shapes_dict") or {}
        shape = shapes.get("image_shape", next(iter(shapes.values()), None))
    if shape is None:
        return None
    return tuple(d if d is not None else (1 if i == 0 else 16) for i, d in enumerate(shape))


class BuildsOnFirstCall:
    """For the generation and refinement modules (before ``keras.Model`` in the bases): their
    sublayers build themselves from the shapes of the first call (each has a build). Keras's
    default build would first trace call() symbolically to find them: the whole network once
    more at every start (building the tiny RSN took 2.35 s with it, 1.1 s without). A saved
    module is loaded through ``build_from_config``, which makes the variables by a call on
    zeros of the saved image shape (``call_on_zeros``, the module's own)."""

    def build(self, input_shape=None):
        self.built = True

    def build_from_config(self, config):
        shape = _example_image_shape(config)
        if shape is not None:
            self.call_on_zeros(shape)

    def call_on_zeros(self, image_shape: tuple[int, ...]) -> None:
        raise NotImplementedError


def batch_norm(name: str) -> BatchNorm:
    """BatchNorm with statistics synchronised across replicas.

    Under MirroredStrategy or MultiWorkerMirroredStrategy every replica then normalises
    with the global batch's statistics, so N replicas train exactly like one device
    with the same global batch (a test checks this). On one device it is plain BN.
    """
    return BatchNorm(momentum=0.9, epsilon=1e-5, synchronized=True, name=name)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ConvBNReLU(keras.layers.Layer):
    """Conv (no bias) -> BatchNorm -> ReLU: every conv of the paper except each module's last."""

    def __init__(self, filters: int, kernel_size: int = 3, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.conv = keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
            name="conv",
        )
        self.bn = batch_norm(name="bn")

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.bn.build(self.conv.compute_output_shape(input_shape))
        self.built = True

    def call(self, x, training=None):
        return tf.nn.relu(self.bn(self.conv(x), training=training))

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BasicBlock(keras.layers.Layer):
    """The ResNet BasicBlock: two 3x3 ConvBN, identity (or 1x1 projection) shortcut, ReLU."""

    def __init__(self, filters: int, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.strides = strides
        self.conv1 = ConvBNReLU(filters, 3, strides, name="conv1")
        self.conv2 = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal", name="conv2"
        )
        self.bn2 = batch_norm(name="bn2")
        self.downsample = None
        self.downsample_bn = None

    def build(self, input_shape):
        in_channels = input_shape[-1]
        self.conv1.build(input_shape)
        mid_shape = self.conv1.compute_output_shape(input_shape)
        self.conv2.build(mid_shape)
        self.bn2.build(mid_shape)
        if self.strides != 1 or in_channels != self.filters:
            # A stride-s 1x1 'same' conv is x[:, ::s, ::s] followed by a stride-1 1x1 conv (same
            # weights, same output, odd sizes included). The strided form's gradient corrupts
            # the heap under oneDNN in TF 2.21 (crash "double free or corruption"), so the
            # subsampling is done by slicing in call().
            self.downsample = keras.layers.Conv2D(
                self.filters, 1, use_bias=False, kernel_initializer="he_normal", name="downsample"
            )
            self.downsample_bn = batch_norm(name="downsample_bn")
            self.downsample.build(input_shape)
            self.downsample_bn.build(mid_shape)
        self.built = True

    def call(self, x, training=None):
        y = self.bn2(self.conv2(self.conv1(x, training=training)), training=training)
        shortcut = x
        if self.downsample is not None:
            if self.strides > 1:
                shortcut = shortcut[:, :: self.strides, :: self.strides, :]
            shortcut = self.downsample_bn(self.downsample(shortcut), training=training)
        return tf.nn.relu(y + shortcut)

    def compute_output_shape(self, input_shape):
        return self.conv1.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PyramidPoolingUnit(keras.layers.Layer):
    """The paper's pyramid pooling unit.

    Average-pools the input to each scale (kernel = stride = round(1/scale), 'same'
    padding that averages only real pixels, so any size works and the pooled map
    is at least 1x1), applies one 1x1 ConvBNReLU per scale, resizes each result
    back to the input size (bilinear) and concatenates them with the input.
    Output channels: C + len(scales) * branch_filters.
    """

    def __init__(self, branch_filters: int, scales: Sequence[float] = PAPER_PYRAMID_SCALES, **kwargs):
        super().__init__(**kwargs)
        if not scales or any(not 0 < s <= 1 for s in scales):
            raise ValueError(f"scales: expected fractions in (0, 1], got {tuple(scales)}")
        self.branch_filters = int(branch_filters)
        self.scales = tuple(float(s) for s in scales)
        self.pool_sizes = tuple(max(1, int(round(1.0 / s))) for s in self.scales)
        self.branches = [ConvBNReLU(self.branch_filters, 1, name=f"branch_{k}") for k in self.pool_sizes]

    def build(self, input_shape):
        for branch in self.branches:
            branch.build(input_shape)
        self.built = True

    def call(self, x, training=None):
        size = tf.shape(x)[1:3]
        native = native_bf16()
        outputs = [x]
        for k, branch in zip(self.pool_sizes, self.branches):
            # Without native bfloat16 (AVX2 machines) TF's kernel sums a bfloat16 window in bfloat16, which
            # cost the mixed_bfloat16 network 5-13 % of its depth (measured): there it averages in float32.
            # oneDNN's bfloat16 kernel accumulates in float32 (checked) and skips two casts.
            source = x if native else tf.cast(x, tf.float32)
            pooled = tf.cast(tf.nn.avg_pool2d(source, k, k, "SAME"), x.dtype) if k > 1 else x
            y = branch(pooled, training=training)
            outputs.append(tf.cast(tf.image.resize(y, size, method="bilinear"), x.dtype))
        return tf.concat(outputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + len(self.scales) * self.branch_filters)

    def get_config(self):
        return {**super().get_config(), "branch_filters": self.branch_filters, "scales": list(self.scales)}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CropToMatch(keras.layers.Layer):
    """Crop ``x`` to the spatial size of ``reference``.

    A x2 transposed conv of a half-resolution map from an odd-sized input is one
    pixel too large (ceil(97/2) * 2 = 98); cropping realigns it with the skip.
    """

    def call(self, x, reference):
        size = tf.shape(reference)[1:3]
        return x[:, : size[0], : size[1], :]

    def compute_output_shape(self, x_shape, reference_shape):
        return (x_shape[0], reference_shape[1], reference_shape[2], x_shape[-1])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SemanticEmbedding(keras.layers.Layer):
    """Class ids (B, H, W, 1), 0 = unlabelled, -> a learned vector per class (B, H, W, channels):
    the refinement module's semantic guidance.

    Categorical, not one channel of id / class count: ids are names, not amounts, so a scalar
    orders classes that have no order, and on a world of 20 classes over the 894-name table it
    squeezed the whole signal below 0.03. One-hot would be unordered too, but the merged NYU
    vocabulary has ~900 names: 900 input channels for conv1, most never seen. An embedding has a
    width set in the config and a capacity that does not depend on how the classes are numbered
    (relabelling them permutes its rows). Rows start at unit scale, like the ImageNet-normalised
    image channels beside them, so the guidance is not drowned at initialisation.

    Ids outside 0..classes fail with an error naming the field instead of being clipped:
    clipping would silently merge classes (the input pipeline checks the same bound,
    rsn_tf.data.check_example). Under XLA (--jit_compile) the check is dropped and the
    lookup clamps.
    """

    def __init__(self, classes: int, channels: int, **kwargs):
        super().__init__(**kwargs)
        if classes < 1 or channels < 1:
            raise ValueError(f"SemanticEmbedding: classes and channels must be >= 1, got {classes}, {channels}")
        self.classes = classes
        self.channels = channels

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.classes + 1, self.channels),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="embeddings",
        )
        self.built = True

    def call(self, labels):
        ids = tf.cast(labels, tf.int32)
        if ids.shape.rank == 4:
            if ids.shape[-1] != 1:
                raise ValueError(f"label: expected class ids of shape (B, H, W, 1), got {ids.shape}")
            ids = ids[..., 0]
        checks = [
            tf.debugging.assert_non_negative(ids, message="label: negative class id"),
            tf.debugging.assert_less(
                ids,
                self.classes + 1,
                message=f"label: class id beyond the {self.classes} classes the model was built for "
                "(semantic_classes, the training dataset's class count)",
            ),
        ]
        with tf.control_dependencies(checks):
            vectors = tf.gather(self.embeddings, ids)
        return tf.cast(vectors, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], self.channels)

    def get_config(self):
        return {**super().get_config(), "classes": self.classes, "channels": self.channels}
