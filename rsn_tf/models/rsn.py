"""The Region Support Network (Figure 1): generation module -> region support -> refinement module.

The generation module predicts the region support, which is both the refinement
module's guidance and its initial coarse depth. The switches below select what
each training stage of Section 3.3 (and each Table 3 ablation) needs:

=============================  ==================================================
switch                         effect
=============================  ==================================================
``generation_only``            run the generation module alone (Baseline1, stage 1)
``teacher_forcing``            refine the ground-truth region support given in
                               ``inputs["region_support"]`` (stage 2, Table 3
                               "refinement with ground truth"); generation is skipped
``freeze_generation(True)``    generation weights and BN statistics stay fixed
``freeze_refinement(True)``    refinement weights and BN statistics stay fixed
``config.guidance``            region_support (default) | semantic | none
=============================  ==================================================
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from rsn_tf.models.generation import GenerationModule
from rsn_tf.models.presets import RSNConfig, get_preset
from rsn_tf.models.refinement import RefinementModule

__all__ = ["RegionSupportNetwork"]


@keras.saving.register_keras_serializable(package="rsn_tf")
class RegionSupportNetwork(keras.Model):
    """End-to-end RSN.

    Inputs: an image tensor (B, H, W, 3) float RGB in [0, 255], or a dict with
    ``image`` and, as the switches need, ``region_support`` (B, H, W, 1) metres
    (teacher forcing) and ``label`` (B, H, W, 1) class ids 0..``config.semantic_classes``
    (semantic guidance; 0 = unlabelled).

    Outputs: a dict with ``region_support`` (B, H, W, 1), ``depth_iterations``
    (a list, one (B, H, W, 1) map per refinement iteration; empty when
    ``generation_only``) and ``depth`` (the last iteration, or the generated
    map when ``generation_only``).
    """

    def __init__(
        self,
        config: RSNConfig | dict | str | None = None,
        generation_only: bool = False,
        teacher_forcing: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if isinstance(config, str):
            config = get_preset(config)
        elif isinstance(config, dict):
            config = RSNConfig.from_dict(config)
        self.config = config or RSNConfig()
        if generation_only and teacher_forcing:
            raise ValueError("generation_only and teacher_forcing exclude each other")
        self.generation_only = generation_only
        self.teacher_forcing = teacher_forcing
        self.generation = GenerationModule(self.config, name="generation")
        self.refinement = RefinementModule(self.config, name="refinement")

    def build(self, input_shape=None):
        """Create both modules' variables, whatever the switches (checkpoints need them all).

        Every layer works for any input size, so a small dummy image is enough.
        """
        image = tf.zeros((1, 16, 16, 3))
        region_support = self.generation(image)
        labels = tf.zeros((1, 16, 16, 1), tf.int32)
        self.refinement(image, region_support, self._guidance({"label": labels}, region_support))
        self.built = True

    # ---- switches for the training stages
    def freeze_generation(self, frozen: bool = True) -> None:
        self.generation.trainable = not frozen

    def freeze_refinement(self, frozen: bool = True) -> None:
        self.refinement.trainable = not frozen

    def rematerialise(self, trunk: bool, refinement: bool) -> None:
        """Gradient checkpointing in training (``--remat``): the generation module's residual
        blocks (``trunk``) and each refinement iteration (``refinement``). The weights and the
        arithmetic are the same; memory is traded for a second forward pass."""
        self.generation.remat_trunk = trunk
        self.refinement.remat_iterations = refinement

    # ---- forward
    def _guidance(self, inputs: dict, region_support: tf.Tensor) -> tf.Tensor | None:
        kind = self.config.guidance
        if kind == "region_support":
            return region_support / self.config.max_depth
        if kind == "semantic":
            if "label" not in inputs:
                raise ValueError('inputs: semantic guidance needs inputs["label"] (B, H, W, 1) class ids')
            return inputs["label"]  # class ids: the refinement module embeds them (SemanticEmbedding)
        return None

    def call(self, inputs, training=None):
        if not isinstance(inputs, dict):
            inputs = {"image": inputs}
        if "image" not in inputs:
            raise ValueError(f'inputs: expected an "image" entry, got keys {sorted(inputs)}')
        image = inputs["image"]
        if self.teacher_forcing:
            if "region_support" not in inputs:
                raise ValueError('inputs: teacher forcing needs inputs["region_support"] (B, H, W, 1)')
            region_support = tf.cast(inputs["region_support"], tf.float32)
        else:
            region_support = self.generation(image, training=training)
        if self.generation_only:
            return {"region_support": region_support, "depth_iterations": [], "depth": region_support}
        iterations = self.refinement(image, region_support, self._guidance(inputs, region_support), training=training)
        return {"region_support": region_support, "depth_iterations": iterations, "depth": iterations[-1]}

    def get_config(self):
        return {
            **super().get_config(),
            "config": self.config.to_dict(),
            "generation_only": self.generation_only,
            "teacher_forcing": self.teacher_forcing,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
