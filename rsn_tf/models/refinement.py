"""The refinement module (Section 3.2): an iterative pyramid network that refines coarse depth.

Layout at the ``paper`` preset, all at full resolution::

    input       RGB (3) + guidance (1) + current depth (1) = 5 channels (4 with guidance "none";
                3 + semantic_embedding_channels + 1 with semantic guidance)
    conv1       7x7 -> 64
    conv2..4    3x3 -> 64
    conv5       3x3 -> 128
    conv6       3x3 -> 128                                   --> skip (128)
    pyramid     pooling unit, 8 scales x 16 + 128 = 256
    conv8       3x3 -> 128, concat skip -> 256
    conv9       3x3 -> 128
    conv10..14  3x3: 128, 64, 64, 32, 32
    conv15      3x3 -> 1: a log-depth correction r

It runs ``refinement_iterations`` times (3) with shared weights. Iteration 1 starts
from the coarse depth (the region support); each refined depth
d_t = d_{t-1} * exp(r_t) replaces the coarse depth for the next iteration. The
correction is multiplicative so depth stays positive and an untrained module
starts as the identity on its coarse depth. Every iteration's output is returned,
because the iterative loss Li weights them all.

With semantic guidance the module takes the label map and embeds it itself
(``semantic_embedding``), so the embedding is saved, loaded and initialised with the
module's weights.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from rsn_tf.models.generation import normalize_image
from rsn_tf.models.layers import (
    BuildsOnFirstCall,
    ConvBNReLU,
    PyramidPoolingUnit,
    SemanticEmbedding,
    rematerialised,
)
from rsn_tf.models.presets import RSNConfig

__all__ = ["RefinementModule"]

_MAX_LOG_STEP = 4.0  # one iteration may scale depth by at most e^4 either way
_MIN_DEPTH = 0.01


@keras.saving.register_keras_serializable(package="rsn_tf")
class RefinementModule(BuildsOnFirstCall, keras.Model):
    """Refines a coarse depth map under a guidance map, iteratively with shared weights.

    Call with ``(image, coarse_depth, guidance)``: image float RGB in [0, 255]
    (B, H, W, 3); coarse depth (B, H, W, 1) metres; guidance (B, H, W, 1): the region
    support scaled to about [0, 1], or with ``config.guidance == "semantic"`` the class
    ids, which become ``config.guidance_channels`` channels here; None when
    ``config.guidance == "none"``. Returns a list of ``refinement_iterations`` depth
    maps (B, H, W, 1).

    ``remat_iterations`` (a training switch, not part of the model: not saved): in training,
    each iteration is rematerialised (gradient checkpointing): only its inputs are kept for
    the backward pass, which recomputes the rest (``--remat``).
    """

    remat_iterations: bool = False

    def __init__(self, config: RSNConfig | dict | None = None, **kwargs):
        super().__init__(**kwargs)
        config = RSNConfig.from_dict(config) if isinstance(config, dict) else (config or RSNConfig())
        self.config = config
        c = config.channels
        self.semantic_embedding = (
            SemanticEmbedding(config.semantic_classes, config.semantic_embedding_channels, name="semantic_embedding")
            if config.guidance == "semantic"
            else None
        )
        self.extractor = [ConvBNReLU(c(64), 7, name="conv1")]
        self.extractor += [ConvBNReLU(c(64), name=f"conv{i}") for i in (2, 3, 4)]
        self.extractor += [ConvBNReLU(c(128), name="conv5"), ConvBNReLU(c(128), name="conv6")]
        self.pyramid = PyramidPoolingUnit(max(1, c(128) // 8), config.pyramid_scales, name="pyramid")
        self.conv8 = ConvBNReLU(c(128), name="conv8")
        self.conv9 = ConvBNReLU(c(128), name="conv9")
        self.regression = [ConvBNReLU(c(ch), name=f"conv{10 + i}") for i, ch in enumerate((128, 64, 64, 32, 32))]
        self.head = keras.layers.Conv2D(
            1,
            3,
            padding="same",
            dtype="float32",
            name="conv15",
            kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3),
        )

    def refine_once(self, image_features, depth, guidance, training=None):
        """One iteration: (normalised image, current depth, guidance) -> refined depth."""
        dtype = self.compute_dtype
        parts = [image_features]
        if guidance is not None:
            parts.append(tf.cast(guidance, dtype))
        parts.append(tf.cast(depth / self.config.max_depth, dtype))
        x = tf.concat(parts, axis=-1)
        for conv in self.extractor:
            x = conv(x, training=training)
        skip = x
        x = self.conv8(self.pyramid(x, training=training), training=training)
        x = self.conv9(tf.concat([x, skip], axis=-1), training=training)
        for conv in self.regression:
            x = conv(x, training=training)
        step = tf.clip_by_value(self.head(x), -_MAX_LOG_STEP, _MAX_LOG_STEP)
        return depth * tf.exp(step)

    def call_on_zeros(self, image_shape: tuple[int, ...]) -> None:
        pixels = (*image_shape[:-1], 1)
        guidance = {"none": None, "semantic": tf.zeros(pixels, tf.int32)}.get(self.config.guidance, tf.zeros(pixels))
        self(tf.zeros(image_shape), tf.ones(pixels), guidance)

    def call(self, image, coarse_depth, guidance=None, training=None):
        if (guidance is None) != (self.config.guidance == "none"):
            raise ValueError(
                f"guidance: the module was configured with guidance={self.config.guidance!r} "
                f"but was called with guidance={'None' if guidance is None else 'a tensor'}"
            )
        if guidance is not None and guidance.shape[-1] != 1:
            raise ValueError(f"guidance: expected one channel (B, H, W, 1), got shape {tuple(guidance.shape)}")
        if self.semantic_embedding is not None:
            guidance = self.semantic_embedding(guidance)  # class ids -> guidance_channels channels
        features = normalize_image(image, self.compute_dtype)
        # Ground-truth region support is 0 on invalid pixels; a multiplicative update would keep
        # them at 0 for ever, so the coarse depth starts at least 1 cm.
        depth = tf.maximum(tf.cast(coarse_depth, tf.float32), _MIN_DEPTH)
        remat = self.remat_iterations and training and self.trainable
        outputs = []
        for i in range(self.config.refinement_iterations):
            with tf.name_scope(f"refine_iteration_{i + 1}"):  # names each iteration's ops in profiles
                # The guidance is an input of the rematerialised call, so its gradient (the semantic
                # embedding's) flows back; without guidance there is none to pass.
                if remat and guidance is None:
                    depth = rematerialised(lambda f, d: self.refine_once(f, d, None, training=True), features, depth)
                elif remat:
                    depth = rematerialised(
                        lambda f, d, g: self.refine_once(f, d, g, training=True), features, depth, guidance
                    )
                else:
                    depth = self.refine_once(features, depth, guidance, training=training)
            outputs.append(depth)
        return outputs

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
