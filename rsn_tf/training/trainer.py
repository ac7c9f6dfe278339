"""The custom training loop on tf.distribute, with checkpoints, resume, logs and evaluation.

``fit`` is broken under MultiWorkerMirroredStrategy in Keras 3.15 (FACTS.md), so the
loop is written with ``strategy.run``: every variable is created inside the strategy
scope before the ``tf.function`` is traced, per-example losses are reduced against
the global batch, and every worker reads its own shard of the input.

Layout of ``--model_dir``::

    <model_dir>/<stage>/ckpt-N.*                  tf.train.CheckpointManager (resume)
    <model_dir>/<stage>/generation.weights.h5     the final module weights, which
    <model_dir>/<stage>/refinement.weights.h5     later stages initialise from
    <model_dir>/<stage>/logs/{train,eval}/        TensorBoard event files
    <model_dir>/<stage>/metrics.json              Table 2 metrics on the test split
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time

import cv2
import keras
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from rsn_tf.data import DatasetNotBuiltError, load_builder
from rsn_tf.metrics import compute_depth_metrics
from rsn_tf.runtime import set_precision
from rsn_tf.training.config import TrainConfig
from rsn_tf.training.stages import StageSpec, get_stage
from rsn_tf.training.task import RSNTask

__all__ = ["TrainingError", "TrainingDivergedError", "Trainer", "make_strategy", "is_chief"]

log = logging.getLogger("rsn_tf.train")
MODULES = ("generation", "refinement")
_TURBO = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_TURBO)[:, 0, ::-1].copy()


class TrainingError(RuntimeError):
    """A problem the user can fix; the message says how. train.py prints it without a traceback."""


class TrainingDivergedError(TrainingError):
    """The loss became NaN or infinite."""


def make_strategy(cpu_devices: int = 1) -> tf.distribute.Strategy:
    """MultiWorkerMirrored when TF_CONFIG is set, Mirrored over several GPUs (or split CPUs), else default."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    if cpu_devices > 1:
        cpus = tf.config.list_logical_devices("CPU")
        if len(cpus) < cpu_devices:
            raise TrainingError(
                f"--cpu_devices={cpu_devices} but only {len(cpus)} logical CPU device(s) exist; the CPU must be "
                "split before TensorFlow starts (train.py does this when the flag is given on the command line)"
            )
        return tf.distribute.MirroredStrategy([d.name for d in cpus[:cpu_devices]])
    return tf.distribute.get_strategy()


def split_cpu(devices: int) -> None:
    """Split the physical CPU into ``devices`` logical devices (before TF initialises)."""
    if devices > 1:
        cpus = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * devices)


def strategy_name(strategy: tf.distribute.Strategy) -> str:
    """The public name (MultiWorkerMirroredStrategy's class is CollectiveAllReduceStrategy)."""
    for name in ("MultiWorkerMirroredStrategy", "MirroredStrategy"):
        if isinstance(strategy, getattr(tf.distribute, name)):
            return name
    return "default strategy"


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


def colorize(depth: tf.Tensor, max_depth: float = 10.0) -> tf.Tensor:
    """(B, H, W, 1) metres -> (B, H, W, 3) uint8 with the turbo colour map (near = red)."""
    index = tf.cast(tf.clip_by_value(1.0 - depth[..., 0] / max_depth, 0.0, 1.0) * 255.0, tf.int32)
    return tf.gather(tf.constant(_TURBO), index)


class Trainer:
    """Runs one stage (or all five) of the paper's schedule."""

    def __init__(self, config: TrainConfig, strategy: tf.distribute.Strategy | None = None):
        self.config = config
        set_precision(config.precision)
        self.strategy = strategy or make_strategy(config.cpu_devices)
        self.chief = is_chief(self.strategy)
        self._summary_batch: dict | None = None
        replicas = self.strategy.num_replicas_in_sync
        if config.batch_size % replicas:
            raise TrainingError(
                f"--batch_size={config.batch_size} is not divisible by the {replicas} replicas in sync. "
                f"Use a multiple of {replicas}, e.g. --batch_size={replicas * max(1, config.batch_size // replicas)}."
            )
        self._check_model_dir()

    # ------------------------------------------------------------------ setup helpers
    def _check_model_dir(self) -> None:
        path = self.config.model_dir
        try:
            tf.io.gfile.makedirs(path)
            probe = os.path.join(path, f".write_test_{os.getpid()}")
            with tf.io.gfile.GFile(probe, "w") as fh:
                fh.write("ok")
            tf.io.gfile.remove(probe)
        except (OSError, tf.errors.OpError) as error:
            raise TrainingError(
                f"--model_dir={path} is not writable ({error.__class__.__name__}: {getattr(error, 'message', error)}). "
                "Pick a directory you can write to, e.g. --model_dir=runs/rsn."
            ) from error

    def stage_dir(self, stage: str) -> str:
        return os.path.join(self.config.model_dir, stage)

    def _write_dir(self, stage: str) -> str:
        """Where this worker writes: the stage dir on the chief, a private temp dir elsewhere."""
        if self.chief:
            return self.stage_dir(stage)
        resolver = self.strategy.cluster_resolver
        return os.path.join(tempfile.gettempdir(), f"rsn_worker_{resolver.task_type}_{resolver.task_id}", stage)

    def builder(self) -> tfds.core.DatasetBuilder:
        name, data_dir = self.config.dataset, self.config.data_dir
        try:
            return load_builder(name, data_dir)
        except DatasetNotBuiltError as error:
            if not name.endswith("/synthetic"):
                raise TrainingError(str(error)) from error
        import tfds_nyu.nyu_region_support  # noqa: F401

        builder = tfds.builder(name, data_dir=data_dir)
        print(f"Building {name} (synthetic NYU-format scenes) into {builder.data_dir} ...", flush=True)
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=self.config.manual_dir)
        )
        return builder

    # ------------------------------------------------------------------ initialisation from earlier stages
    def _initialise(self, model, stage: StageSpec) -> list[str]:
        """Load module weights from earlier stages; returns the messages printed (warnings included)."""
        messages = []
        for module, sources in stage.init:
            for source in sources:
                path = os.path.join(self.stage_dir(source), f"{module}.weights.h5")
                if tf.io.gfile.exists(path):
                    getattr(model, module).load_weights(path)
                    messages.append(f"{module}: initialised from stage '{source}' ({path})")
                    break
            else:
                tried = ", ".join(os.path.join(self.stage_dir(s), f"{module}.weights.h5") for s in sources)
                messages.append(
                    f"WARNING: no earlier-stage weights for the {module} module (looked for {tried}); "
                    f"it starts from random initialisation instead. Run the earlier stages first "
                    f"(--stage={sources[-1]}) or --stage=all for the paper's schedule."
                )
        if self.config.resnet34_weights and not any(m.startswith("generation: initialised") for m in messages) \
                and not stage.teacher_forcing:
            from rsn_tf.models.pretrained import load_resnet34_imagenet

            load_resnet34_imagenet(model.generation, self.config.resnet34_weights)
            messages.append(f"generation: trunk initialised from ImageNet ResNet34 ({self.config.resnet34_weights})")
        return messages

    # ------------------------------------------------------------------ the loop
    def run(self, stage_name: str | StageSpec) -> dict:
        """Train one stage (a name from STAGES, or any StageSpec, e.g. a Table 3 ablation row)."""
        stage = stage_name if isinstance(stage_name, StageSpec) else get_stage(stage_name)
        config = self.config
        task = RSNTask(config, stage)
        builder = self.builder()
        train_examples = builder.info.splits["train"].num_examples
        steps_per_epoch = config.steps_per_epoch or max(1, train_examples // config.batch_size)
        total_steps = steps_per_epoch * config.epochs
        write_dir = self._write_dir(stage.name)
        tf.io.gfile.makedirs(write_dir)
        self._summary_batch = None

        with self.strategy.scope():
            model = task.build_model()
            optimizer = task.build_optimizer(steps_per_epoch)
            if config.precision == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(model.trainable_variables)
            step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
        manager = tf.train.CheckpointManager(checkpoint, write_dir, max_to_keep=config.keep_checkpoints)
        preemption = None
        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            # TF's preemption handling for multi-worker: on SIGTERM every worker saves, then exits.
            preemption = tf.distribute.experimental.PreemptionCheckpointHandler(
                self.strategy.cluster_resolver, manager
            )
        if manager.latest_checkpoint:
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
            self._say(f"Resuming stage '{stage.name}' from {manager.latest_checkpoint} at step {int(step.numpy())}.")
        else:
            for message in self._initialise(model, stage):
                self._say(message)

        dataset = self.strategy.distribute_datasets_from_function(
            lambda ctx: task.build_inputs(builder, "train", training=True, input_context=ctx)
        )
        iterator = iter(dataset)

        @tf.function(jit_compile=config.jit_compile)
        def replica_step(batch, log_mode, nan_now):
            return task.train_step(batch, model, optimizer, log_mode, nan_now)

        @tf.function
        def train_step(iterator, log_mode, nan_now):
            per_replica = self.strategy.run(replica_step, args=(next(iterator), log_mode, nan_now))
            return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}

        writer = tf.summary.create_file_writer(os.path.join(write_dir, "logs", "train"))
        start = int(step.numpy())
        self._say(
            f"Stage '{stage.name}': {stage.summary}.\n  {config.preset} preset, {self.strategy.num_replicas_in_sync} "
            f"replica(s) ({strategy_name(self.strategy)}), global batch {config.batch_size}, "
            f"{steps_per_epoch} steps/epoch x {config.epochs} epochs = {total_steps} steps; start at step {start}."
        )
        bar = self._progress(total_steps, start, stage.name)
        t_last, images = time.perf_counter(), 0
        losses: dict[str, float] = {}
        for current in range(start, total_steps):
            epoch = current // steps_per_epoch
            nan_now = tf.constant(config.inject_nan_at_step is not None and current == config.inject_nan_at_step)
            result = train_step(iterator, tf.constant(task.log_mode(epoch)), nan_now)
            losses = {k: float(v) for k, v in result.items()}
            if not math.isfinite(losses["total"]):
                last = manager.latest_checkpoint or "none (no step had completed a checkpoint)"
                raise TrainingDivergedError(
                    f"The loss became {losses['total']} at step {current} of stage '{stage.name}'. The update was "
                    f"not applied and training stopped. The last good checkpoint is kept: {last}. Lower "
                    f"--learning_rate (now {config.optimizer.learning_rate}), add --clipnorm, or check the data."
                )
            step.assign_add(1)
            images += config.batch_size
            done = current + 1
            if preemption is not None:
                preemption.save_checkpoint_if_preempted()
            if done % config.log_every_steps == 0 or done == total_steps:
                now = time.perf_counter()
                rate = images / max(now - t_last, 1e-9)
                t_last, images = now, 0
                self._log_scalars(writer, done, losses, optimizer, rate, epoch)
                if bar is not None:
                    bar.set_postfix(loss=f"{losses['total']:.4f}", img_s=f"{rate:.1f}", epoch=epoch + 1)
            if bar is not None:
                bar.update(1)
            if done % config.checkpoint_every_steps == 0 or done == total_steps:
                manager.save(checkpoint_number=done)
            if config.image_summaries and (done % steps_per_epoch == 0 or done == total_steps):
                self._log_images(writer, done, task, model, builder)
        if bar is not None:
            bar.close()
        if total_steps > start:
            manager.save(checkpoint_number=total_steps)
        for module in MODULES:
            getattr(model, module).save_weights(os.path.join(write_dir, f"{module}.weights.h5"))
        with tf.io.gfile.GFile(os.path.join(write_dir, "model_config.json"), "w") as fh:
            json.dump(task.model_config.to_dict(), fh, indent=2)  # export.py rebuilds the model from it
        with tf.io.gfile.GFile(os.path.join(write_dir, "stage.json"), "w") as fh:
            json.dump(stage.to_dict(), fh, indent=2)  # the switches, for rsn_tf.evaluate

        metrics = self.evaluate(task, model, builder)
        metrics.update({"stage": stage.name, "steps": total_steps, "final_losses": losses})
        if self.chief:
            with tf.io.gfile.GFile(os.path.join(write_dir, "metrics.json"), "w") as fh:
                json.dump(metrics, fh, indent=2)
            eval_writer = tf.summary.create_file_writer(os.path.join(write_dir, "logs", "eval"))
            with eval_writer.as_default():
                for name, value in metrics["test"].items():
                    tf.summary.scalar(name, value, step=total_steps)
        self.model = model
        return metrics

    def run_all(self, stages) -> dict:
        results = {}
        for name in stages:
            results[name] = self.run(name)
        return results

    # ------------------------------------------------------------------ evaluation and logs
    def evaluate(self, task: RSNTask, model, builder) -> dict:
        """Table 2 metrics of the stage's depth output on the test split (per-image average)."""
        ds = task.build_inputs(builder, self.config.eval_split, training=False)
        if self.config.eval_batches:
            ds = ds.take(self.config.eval_batches)
        predict = tf.function(lambda batch: task.validation_step(batch, model), reduce_retracing=True)
        preds, gts = [], []
        for batch in ds:
            preds.append(predict(batch).numpy()[..., 0])
            gts.append(batch["depth"].numpy()[..., 0])
        metrics = compute_depth_metrics(np.concatenate(preds), np.concatenate(gts))
        self._say("Test metrics: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "num_images")
                  + f" ({metrics['num_images']} images)")
        return {"test": metrics}

    def _log_scalars(self, writer, step, losses, optimizer, rate, epoch) -> None:
        if not self.chief:
            return
        lr = optimizer.learning_rate
        with writer.as_default():
            for name, value in losses.items():
                tf.summary.scalar(f"loss/{name}", value, step=step)
            tf.summary.scalar("learning_rate", float(lr.numpy() if hasattr(lr, "numpy") else lr), step=step)
            tf.summary.scalar("images_per_second", rate, step=step)
            tf.summary.scalar("epoch", epoch + 1, step=step)

    def _log_images(self, writer, step, task, model, builder) -> None:
        if not self.chief:
            return
        n = self.config.image_summaries
        if self._summary_batch is None:  # the same test images every epoch of a stage
            batch = next(iter(task.build_inputs(builder, self.config.eval_split, training=False)))
            self._summary_batch = {k: v[:n] for k, v in batch.items()}
        batch = self._summary_batch
        out = model(task.model_inputs(batch), training=False)
        with writer.as_default():
            tf.summary.image("rgb", tf.cast(batch["image"], tf.uint8), step=step, max_outputs=n)
            tf.summary.image("depth/ground_truth", colorize(batch["depth"]), step=step, max_outputs=n)
            tf.summary.image("region_support/predicted", colorize(out["region_support"]), step=step, max_outputs=n)
            tf.summary.image("depth/predicted", colorize(out["depth"]), step=step, max_outputs=n)

    def _progress(self, total: int, start: int, stage: str):
        if not self.chief:
            return None
        from tqdm import tqdm

        return tqdm(total=total, initial=start, desc=f"stage {stage}", unit="step", dynamic_ncols=True)

    def _say(self, message: str) -> None:
        if self.chief:
            print(message, flush=True)
