"""The training task: what to build, what to minimise, one step. The trainer stays thin.

Mirrors TF Model Garden's task: ``build_model``, ``build_inputs`` (and the dataset builder
they read), ``build_optimizer``, ``build_losses``, ``train_step``, ``validation_step`` and
``validate``. The task owns validation, so the trainer never imports the evaluation package.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
import tensorflow as tf
import tensorflow_datasets as tfds

from rsn_tf.config import ExperimentConfig
from rsn_tf.data import make_dataset, num_classes, prepare_builder
from rsn_tf.depth_sources import DepthSource
from rsn_tf.evaluation.evaluator import evaluate_source
from rsn_tf.evaluation.reports import evaluation_settings, write_reports
from rsn_tf.losses import LossConfig, combined_loss, iterative_loss, l2_loss, region_loss
from rsn_tf.metrics import MetricConfig
from rsn_tf.models import RegionSupportNetwork, RSNConfig, get_preset
from rsn_tf.schedule import StageSpec
from rsn_tf.training.initialization import check_freeze
from rsn_tf.training.optimizers import FusedAdam

__all__ = ["RSNTask"]


class RSNTask:
    """One training stage of the Region Support Network."""

    def __init__(self, config: ExperimentConfig, stage: StageSpec, dataset_builder_worker: str | None = None):
        """``dataset_builder_worker``: set on a non-chief worker (the chief's name); a missing dataset
        is then awaited from that worker instead of built here as well."""
        self.config = config
        self.stage = stage
        self.dataset_builder_worker = dataset_builder_worker
        self.loss_config = LossConfig()
        self.model_config: RSNConfig = get_preset(config.model.preset)
        if stage.guidance:
            self.model_config = self.model_config.replace(guidance=stage.guidance)
        self._builder: tfds.core.DatasetBuilder | None = None
        self._predict = None

    @property
    def size(self) -> tuple[int, int]:
        """The model's (height, width): the inputs are resized to it."""
        return self.model_config.height, self.model_config.width

    # ------------------------------------------------------------------ build
    def build_model(self) -> RegionSupportNetwork:
        """The stage's network. Its config takes the dataset's class count (the rows of semantic
        guidance's label embedding), so model_config.json records it and a saved model rebuilds with it."""
        # A task that never opened its dataset (a benchmark on random tensors) needs the count only
        # when the model reads labels; a dataset without a names table keeps the preset's.
        if self._builder is not None or self.model_config.guidance == "semantic":
            classes = num_classes(self.builder())
            if classes:
                self.model_config = self.model_config.replace(semantic_classes=classes)
        model = RegionSupportNetwork(
            self.model_config,
            generation_only=self.stage.generation_only,
            teacher_forcing=self.stage.teacher_forcing,
        )
        model.build()
        remat = self.config.runtime.remat
        model.rematerialise(trunk=remat in ("trunk", "all"), refinement=remat == "all")
        # A module the stage does not run is frozen too, so the optimizer never sees it; --freeze
        # (fine-tuning) freezes one more, and is refused where it would leave nothing to train.
        freeze = self.config.task.freeze
        check_freeze(self.stage, freeze)
        model.freeze_generation(self.stage.freeze_generation or self.stage.teacher_forcing or freeze == "generation")
        model.freeze_refinement(self.stage.freeze_refinement or self.stage.generation_only or freeze == "refinement")
        return model

    def builder(self) -> tfds.core.DatasetBuilder:
        """The prepared TFDS builder (a missing synthetic config is built first)."""
        if self._builder is None:
            data = self.config.data
            self._builder = prepare_builder(
                data.dataset,
                data.data_dir,
                data.manual_dir,
                builder_worker=self.dataset_builder_worker,
                wait_timeout_s=data.dataset_wait_timeout_s,
            )
        return self._builder

    def build_inputs(
        self,
        split: str,
        training: bool,
        input_context: tf.distribute.InputContext | None = None,
        skip_examples: int = 0,
    ) -> tf.data.Dataset:
        return make_dataset(
            self.builder(),
            split,
            self.config.data,
            training,
            size=self.size,
            seed=self.config.trainer.seed,
            input_context=input_context,
            skip_examples=skip_examples,
        )

    def build_optimizer(self, steps_per_epoch: int) -> keras.optimizers.Optimizer:
        opt = self.config.optimizer
        lr: float | keras.optimizers.schedules.LearningRateSchedule = opt.learning_rate
        total = max(1, steps_per_epoch * self.config.trainer.epochs)
        if opt.lr_schedule == "cosine":
            lr = keras.optimizers.schedules.CosineDecay(opt.learning_rate, total)
        elif opt.lr_schedule == "step":
            every = max(1, steps_per_epoch * opt.lr_step_every_epochs)
            boundaries = list(range(every, total, every))
            lr = keras.optimizers.schedules.PiecewiseConstantDecay(
                boundaries, [opt.learning_rate * 0.1**i for i in range(len(boundaries) + 1)]
            )
        elif opt.lr_schedule != "constant":
            raise ValueError(f"--lr_schedule={opt.lr_schedule!r}: expected constant, cosine or step")
        kwargs = {"clipnorm": opt.clipnorm} if opt.clipnorm else {}
        if opt.optimizer == "sgd":
            return keras.optimizers.SGD(lr, **kwargs)
        if opt.optimizer == "momentum":
            return keras.optimizers.SGD(lr, momentum=opt.momentum, **kwargs)
        if opt.optimizer == "adam":
            return FusedAdam(lr, **kwargs)  # Keras's Adam, one kernel per variable
        raise ValueError(f"--optimizer={opt.optimizer!r}: expected sgd, momentum or adam")

    # ------------------------------------------------------------------ losses
    @staticmethod
    def model_inputs(batch: dict) -> dict:
        return {"image": batch["image"], "region_support": batch["region_support"], "label": batch["label"]}

    def build_losses(self, batch: dict, outputs: dict, log_mode: tf.Tensor) -> dict[str, tf.Tensor]:
        """Per-example loss terms, shape (B,); ``total`` is what the stage minimises.

        ``log_mode`` (a boolean scalar) picks the log variant of Lr in the generation
        stage; the paper runs the linear variant for 17 epochs first.
        """
        regions = batch["regions"]
        if self.stage.loss == "l2":
            l2 = l2_loss(batch[self.stage.target], outputs["region_support"], "log")
            return {"total": l2, "l2": l2}
        if self.stage.loss == "region":
            target, predicted = batch[self.stage.target], outputs["region_support"]
            lr = tf.cond(
                log_mode,
                lambda: region_loss(target, predicted, regions, "log"),
                lambda: region_loss(target, predicted, regions, "linear"),
            )
            return {"total": lr, "region": lr}
        if self.stage.loss == "iterative":
            li = iterative_loss(
                batch["depth"],
                outputs["depth_iterations"],
                regions,
                self.loss_config.iteration_weights,
                self.loss_config.region_mode,
            )
            return {"total": li, "iterative": li}
        terms = combined_loss(
            batch["region_support"],
            outputs["region_support"],
            batch["depth"],
            outputs["depth_iterations"],
            regions,
            self.loss_config,
        )
        return terms

    def log_mode(self, epoch: int) -> bool:
        if self.stage.region_mode is not None:
            return self.stage.region_mode == "log"
        return self.stage.loss != "region" or epoch >= self.config.task.linear_epochs

    # ------------------------------------------------------------------ steps
    def train_step(self, batch, model, optimizer, log_mode, nan_now) -> dict[str, tf.Tensor]:
        """One replica's step. Losses are averaged against the global batch size."""
        global_batch = self.config.data.batch_size
        with tf.GradientTape() as tape:
            outputs = model(self.model_inputs(batch), training=True)
            per_example = self.build_losses(batch, outputs, log_mode)
            per_example = {k: tf.where(nan_now, tf.fill(tf.shape(v), math.nan), v) for k, v in per_example.items()}
            loss = tf.nn.compute_average_loss(per_example["total"], global_batch_size=global_batch)
            scaled = optimizer.scale_loss(loss)  # identity unless a LossScaleOptimizer (float16)
        variables = model.trainable_variables
        grads = tape.gradient(scaled, variables)
        finite = tf.math.is_finite(loss)
        # Never apply a non-finite update: the trainer stops on it and keeps the last good checkpoint.
        grads = [tf.where(finite, g, tf.zeros_like(g)) for g in grads]
        optimizer.apply_gradients(zip(grads, variables))
        return {k: tf.nn.compute_average_loss(v, global_batch_size=global_batch) for k, v in per_example.items()}

    def validation_step(self, batch: dict, model) -> dict:
        """``{"depth": (B, H, W), "region_support": (B, H, W) or None}`` in metres, as numpy: the
        contract of an evaluation ``DepthSource``. A teacher-forced stage's region support is the
        ground truth it was given, not a prediction, so it is None."""
        if self._predict is None or self._predict[0] is not model:
            self._predict = (model, tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True))
        out = self._predict[1](self.model_inputs(batch))
        region_support = None if self.stage.teacher_forcing else out["region_support"].numpy()[..., 0]
        return {"depth": out["depth"].numpy()[..., 0], "region_support": region_support}

    # ------------------------------------------------------------------ validation
    def validate(
        self,
        model: RegionSupportNetwork,
        stage_dir: str,
        steps: int,
        losses: dict[str, float],
        write: bool = True,
        say: Callable[[str], None] = print,
    ) -> dict:
        """Score ``model`` on the evaluation split and write the stage's reports (metrics.json et al.)
        into ``stage_dir`` (``write=False``: the document only, for non-chief workers). Returns the
        metrics.json document."""
        data = self.config.data
        batches = self.build_inputs(data.eval_split, training=False)
        if data.eval_batches:
            batches = batches.take(data.eval_batches)
        name = self.stage.name
        source = DepthSource(name, stage_dir, lambda batch: self.validation_step(batch, model), self.size)
        metric_config = MetricConfig()
        result = evaluate_source(source, batches, metric_config, progress=False)
        metrics = result.metrics
        say(
            "Test metrics: "
            + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "num_images")
            + f" ({metrics['num_images']} images)"
        )
        settings = evaluation_settings(data.dataset, data.eval_split, self.size, metric_config)
        training = {"stage": name, "steps": steps, "final_losses": losses}
        return write_reports(stage_dir, name, result, settings, training=training, write=write)
