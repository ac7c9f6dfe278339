"""The generation module (Section 3.1): a pyramid network that predicts the region support.

Layout at the ``paper`` preset (channels x width multiplier elsewhere)::

    image (H, W, 3)
      stem        7x7 conv, stride 1, 64                         full resolution
      stage 1     3 BasicBlocks, 64                              full   --> skip_full (64)
      stage 2     4 BasicBlocks, 128, first stride 2             half
      stage 3     6 BasicBlocks, 256                             half
      stage 4     3 BasicBlocks, 512                             half   --> skip_half (512)
      pyramid     pooling unit, 8 scales x 64 + 512 = 1024       half
      conv22      3x3 -> 512, concat skip_half -> 1024           half
      conv23      3x3 -> 512
      conv24      3x3 -> 256
      up          3x3 transposed conv, stride 2 -> 64, crop      full
      concat      with skip_full (64): high-resolution half of 128
      conv26..29  3x3: 128, 64, 64, 32
      conv30      3x3 -> 1, then softplus: depth in metres > 0

Every conv but the last is followed by BN and ReLU (ConvBNReLU).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from rsn_tf.models.layers import (
    BasicBlock,
    BuildsOnFirstCall,
    ConvBNReLU,
    CropToMatch,
    PyramidPoolingUnit,
    batch_norm,
    rematerialised,
)
from rsn_tf.models.presets import RSNConfig

__all__ = ["GenerationModule", "normalize_image", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)

_STAGE_CHANNELS = (64, 128, 256, 512)
_STAGE_STRIDES = (1, 2, 1, 1)  # the only subsampling is at the second stage


def normalize_image(image: tf.Tensor, dtype) -> tf.Tensor:
    """RGB in [0, 255] -> ImageNet-normalised, in the layer's compute dtype."""
    x = (tf.cast(image, tf.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return tf.cast(x, dtype)


def inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


@keras.saving.register_keras_serializable(package="rsn_tf")
class GenerationModule(BuildsOnFirstCall, keras.Model):
    """Predicts the region support (or, trained on depth, depth) from an RGB image.

    Call with float RGB in [0, 255], shape (B, H, W, 3); returns (B, H, W, 1) metres.

    ``remat_trunk`` (a training switch, not part of the model: not saved): in training, each
    residual block of the trunk is rematerialised (gradient checkpointing), which trades a
    second forward pass of the trunk for its activations' memory (``--remat``).
    """

    remat_trunk: bool = False

    def __init__(self, config: RSNConfig | dict | None = None, **kwargs):
        super().__init__(**kwargs)
        config = RSNConfig.from_dict(config) if isinstance(config, dict) else (config or RSNConfig())
        self.config = config
        c = config.channels
        self.stem = ConvBNReLU(c(64), 7, name="stem")
        # One flat list (Keras tracks flat lists of layers); stage 1 ends after blocks[0] blocks.
        self.trunk = [
            BasicBlock(c(channels), stride if b == 0 else 1, name=f"layer{s}_{b}")
            for s, (blocks, channels, stride) in enumerate(zip(config.blocks, _STAGE_CHANNELS, _STAGE_STRIDES), 1)
            for b in range(blocks)
        ]
        self.stage1_blocks = config.blocks[0]
        trunk = c(512)
        self.pyramid = PyramidPoolingUnit(max(1, trunk // 8), config.pyramid_scales, name="pyramid")
        self.conv22 = ConvBNReLU(c(512), name="conv22")
        self.conv23 = ConvBNReLU(c(512), name="conv23")
        self.conv24 = ConvBNReLU(c(256), name="conv24")
        self.up = keras.layers.Conv2DTranspose(
            c(64), 3, strides=2, padding="same", use_bias=False, kernel_initializer="he_normal", name="up"
        )
        self.up_bn = batch_norm(name="up_bn")
        self.crop = CropToMatch(name="crop")
        self.full_convs = [ConvBNReLU(c(ch), name=f"conv{26 + i}") for i, ch in enumerate((128, 64, 64, 32))]
        self.head = keras.layers.Conv2D(
            1,
            3,
            padding="same",
            dtype="float32",
            name="conv30",
            bias_initializer=keras.initializers.Constant(inverse_softplus(config.initial_depth)),
        )

    def call_on_zeros(self, image_shape: tuple[int, ...]) -> None:
        self(tf.zeros(image_shape))

    def call(self, image, training=None):
        x = self.stem(normalize_image(image, self.compute_dtype), training=training)
        skip_full = x
        remat = self.remat_trunk and training and self.trainable
        for i, block in enumerate(self.trunk):
            x = rematerialised(lambda t, b=block: b(t, training=True), x) if remat else block(x, training=training)
            if i + 1 == self.stage1_blocks:
                skip_full = x  # full-resolution features before the second stage
        skip_half = x
        x = self.pyramid(x, training=training)
        x = self.conv22(x, training=training)
        x = tf.concat([x, skip_half], axis=-1)
        x = self.conv24(self.conv23(x, training=training), training=training)
        x = tf.nn.relu(self.up_bn(self.up(x), training=training))
        x = tf.concat([self.crop(x, skip_full), skip_full], axis=-1)
        for conv in self.full_convs:
            x = conv(x, training=training)
        return tf.nn.softplus(self.head(x))

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
