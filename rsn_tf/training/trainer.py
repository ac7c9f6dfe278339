"""The custom training loop on tf.distribute: steps, checkpoints, resume and the divergence guard.

``fit`` is broken under MultiWorkerMirroredStrategy in Keras 3.15 (FACTS.md), so the
loop is written with ``strategy.run``: every variable is created inside the strategy
scope before the ``tf.function`` is traced, per-example losses are reduced against
the global batch, and every worker reads its own shard of the input.

The loop is all this file does. The task (``task.py``) builds the model, inputs, losses
and steps; ``distribution.py`` picks the strategy; ``initialization.py`` loads earlier
stages' weights; ``summaries.py`` writes TensorBoard logs; ``rsn_tf.run_dir`` owns the
files a stage leaves; the task validates the stage (``RSNTask.validate``, its metrics.json), so
this file never imports the evaluation package.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any

import keras
import tensorflow as tf

from rsn_tf import config as config_lib
from rsn_tf.config import ExperimentConfig
from rsn_tf.errors import UserError
from rsn_tf.run_dir import RunDir, StageDir
from rsn_tf.runtime import resolve_precision, set_determinism, set_precision
from rsn_tf.schedule import StageSpec, get_stage
from rsn_tf.training.distribution import (
    EXIT_WORKER_LOST,
    dataset_builder_worker,
    is_chief,
    make_strategy,
    strategy_name,
)
from rsn_tf.training.initialization import Parent, initialise, with_parent
from rsn_tf.training.preemption import EXIT_PREEMPTED, PreemptionWatcher, multi_worker_handler
from rsn_tf.training.run_identity import check_resumable, describe, run_identity, same_run
from rsn_tf.training.summaries import StageSummaries
from rsn_tf.training.task import RSNTask

__all__ = ["TrainingError", "TrainingDivergedError", "TrainingPreempted", "WorkerLostError", "Trainer"]


class TrainingError(UserError, RuntimeError):
    """A problem the user can fix; the message says how. rsn-train prints it without a traceback."""


class TrainingDivergedError(TrainingError):
    """The loss became NaN or infinite."""


class TrainingPreempted(TrainingError):
    """SIGTERM: the checkpoint is saved; the same command continues the run. rsn-train exits 42."""

    exit_code = EXIT_PREEMPTED


class WorkerLostError(TrainingError):
    """Multi-worker: another worker died or stalled past the timeouts. rsn-train exits 43."""

    exit_code = EXIT_WORKER_LOST


# What TF raises on the survivors when a peer is gone (heartbeats stopped, connection lost, a
# collective past its timeout, or a collective aborted because of either).
_WORKER_LOST_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError)


@dataclasses.dataclass
class _StageRun:
    """What one stage's run carries from set-up through restore and the loop to its finish."""

    stage: StageSpec
    task: RSNTask
    stage_dir: StageDir
    steps_per_epoch: int
    total_steps: int
    model: Any
    optimizer: Any
    step: tf.Variable
    checkpoint: tf.train.Checkpoint
    manager: tf.train.CheckpointManager
    preemption: Any = None  # multi-worker: TF's PreemptionCheckpointHandler
    watcher: PreemptionWatcher | None = None  # otherwise: our SIGTERM watcher
    start: int = 0  # the step the loop starts at (after a restore)
    summaries: StageSummaries | None = None
    losses: dict[str, float] = dataclasses.field(default_factory=dict)
    train_examples: int = 0  # frames in the training split


class Trainer:
    """Runs one stage (or all five) of the paper's schedule."""

    def __init__(
        self, config: ExperimentConfig, strategy: tf.distribute.Strategy | None = None, parent: Parent | None = None
    ):
        """``parent``: the --init_from parent rsn-train resolved (``with_parent``); found here when not given."""
        if parent is None and config.model.init_from:
            config, parent = with_parent(config)  # records it in the config, so in the run's identity
        self.config = config
        self.parent = parent
        self.precision, self.precision_reason = resolve_precision(config.runtime.precision)
        set_precision(self.precision)
        set_determinism(config.runtime.deterministic)
        self.strategy = strategy or make_strategy(
            config.runtime.cpu_devices, config.runtime.worker_heartbeat_timeout_s, config.runtime.collective_timeout_s
        )
        self.chief = is_chief(self.strategy)
        self.run_dir = RunDir(config.trainer.model_dir)
        replicas = self.strategy.num_replicas_in_sync
        batch = config.data.batch_size
        if batch % replicas:
            raise TrainingError(
                f"--batch_size={batch} is not divisible by the {replicas} replicas in sync. "
                f"Use a multiple of {replicas}, e.g. --batch_size={replicas * max(1, batch // replicas)}."
            )
        self.run_dir.ensure_writable()

    def _worker(self) -> tuple[str, int]:
        resolver = self.strategy.cluster_resolver
        return resolver.task_type, resolver.task_id

    def _prepare_stage_dirs(self, stage: StageSpec) -> StageDir:
        """Check whose checkpoints the stage dir holds and return where this worker writes.

        The chief writes the stage dir; another worker writes its own dir inside the run
        (``RunDir.worker_stage``), cleared first: only the chief's checkpoints decide where a
        stage resumes, and a worker's dir may hold files of an interrupted or another run.
        """
        chief_dir = self.run_dir.stage(stage.name)
        identity = run_identity(self.config, stage.to_dict())
        note = check_resumable(chief_dir, identity)  # on every worker: all refuse together, none hangs
        if note:
            self._say(note)
        if self.chief:
            if not same_run(chief_dir.read_identity(), identity):
                chief_dir.write_identity(identity)
            return chief_dir
        task_type, task_id = self._worker()
        own = self.run_dir.worker_stage(task_type, task_id, stage.name)
        previous = own.read_identity()
        if own.latest_checkpoint() and not same_run(previous, identity):
            whose = describe(previous) if previous else "a run without an identity file"
            print(
                f"Worker {task_type}-{task_id}: ignoring stale checkpoints in {own.path} written by {whose}; this is "
                f"{describe(identity)}. Removed: a worker resumes from the chief's checkpoints only.",
                flush=True,
            )
        self.run_dir.remove_worker_stage(task_type, task_id, stage.name)
        own.write_identity(identity)
        return own

    # ------------------------------------------------------------------ one stage
    def run(self, stage_name: str | StageSpec) -> dict:
        """Train one stage (a name from STAGES, or any StageSpec, e.g. a Table 3 ablation row).

        Returns the stage's metrics.json document (``document["metrics"]`` holds the test metrics).
        """
        stage = stage_name if isinstance(stage_name, StageSpec) else get_stage(stage_name)
        run = self._set_up(stage)
        try:
            self._restore(run)
            self._train(run)
            return self._finish(run)
        finally:  # also when preempted or diverged: the logs up to there are kept
            if run.summaries is not None:
                run.summaries.close()

    def _set_up(self, stage: StageSpec) -> _StageRun:
        """The task, the step budget, the stage dir, and model, optimizer and checkpoint in the strategy's scope."""
        config = self.config
        # One worker builds a missing dataset; the others wait for it (they share --data_dir).
        task = RSNTask(config, stage, dataset_builder_worker=dataset_builder_worker())
        train_examples = _split_size(task.builder(), config.data.train_split)
        steps_per_epoch = config.trainer.steps_per_epoch or max(1, train_examples // config.data.batch_size)
        stage_dir = self._prepare_stage_dirs(stage)
        stage_dir.write_started(stage.to_dict())
        if self.chief:
            config_lib.save_file(config_lib.override(config, {"task.stage": stage.name}), stage_dir.config_path)

        with self.strategy.scope():
            model = task.build_model()
            optimizer = task.build_optimizer(steps_per_epoch)
            if self.precision == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(model.trainable_variables)
            step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            checkpoint = training_checkpoint(model, optimizer, step)
        manager = tf.train.CheckpointManager(checkpoint, stage_dir.path, max_to_keep=config.trainer.keep_checkpoints)
        total_steps = steps_per_epoch * config.trainer.epochs
        run = _StageRun(
            stage, task, stage_dir, steps_per_epoch, total_steps, model, optimizer, step, checkpoint, manager
        )
        run.train_examples = train_examples
        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            # TF's preemption handling for multi-worker: on SIGTERM every worker saves, then exits 42.
            run.preemption = multi_worker_handler(self.strategy, manager)
        else:
            run.watcher = PreemptionWatcher()
        return run

    def _restore(self, run: _StageRun) -> None:
        """Resume from the chief's latest checkpoint, or initialise from the earlier stages' weights."""
        # Every worker resumes from the chief's checkpoint (the run dir is shared, as multi-worker
        # training requires), never from its own: a worker killed outright may have missed its
        # own last save, and workers that resumed at different steps would wait on each other.
        name = run.stage.name
        latest = self.run_dir.stage(name).latest_checkpoint()
        if latest:
            restore_training_checkpoint(latest, run.checkpoint)
            self._say(f"Resuming stage '{name}' from {latest} at step {int(run.step.numpy())}.")
            if self.parent is not None:
                self._say(
                    f"Fine-tuning run: its own checkpoint holds the weights; the parent {self.parent.path} is "
                    "not loaded again."
                )
        else:
            messages = initialise(
                run.model, run.stage, self.run_dir, self.config.model.resnet34_weights, parent=self.parent
            )
            for message in messages:
                self._say(message)
        run.start = int(run.step.numpy())

    def _train(self, run: _StageRun) -> None:
        """The step loop from ``run.start`` to the budget: logs, checkpoints, preemption and the divergence guard."""
        config, task, model, optimizer = self.config, run.task, run.model, run.optimizer
        batch_size = config.data.batch_size
        # Exact resume: the input stream restarts where the interrupted run left it (rsn_tf/data.py),
        # start * global batch examples in, split evenly over the input pipelines.
        dataset = self.strategy.distribute_datasets_from_function(
            lambda ctx: task.build_inputs(
                config.data.train_split,
                training=True,
                input_context=ctx,
                skip_examples=run.start * batch_size // ctx.num_input_pipelines,
            )
        )
        iterator = iter(dataset)

        # No autograph: the step has no Python control flow on tensors (the losses use tf.cond), and
        # converting Keras's and the optimizer's code cost 1.6 s of every process's start (measured).
        @tf.function(jit_compile=config.runtime.jit_compile, autograph=False)
        def replica_step(batch, log_mode, nan_now):
            return task.train_step(batch, model, optimizer, log_mode, nan_now)

        @tf.function(autograph=False)
        def train_step(iterator, log_mode, nan_now):
            per_replica = self.strategy.run(replica_step, args=(next(iterator), log_mode, nan_now))
            return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}

        run.summaries = StageSummaries(run.stage_dir, self.chief, config.trainer.image_summaries)
        start, total_steps, steps_per_epoch, name = run.start, run.total_steps, run.steps_per_epoch, run.stage.name
        self._say(
            f"Stage '{name}': {run.stage.summary}.\n  {config.model.preset} preset, "
            f"{self.strategy.num_replicas_in_sync} replica(s) ({strategy_name(self.strategy)}), global batch "
            f"{batch_size}, {steps_per_epoch} steps/epoch x {config.trainer.epochs} epochs = {total_steps} steps; "
            f"start at step {start}.\n  Precision: {self.precision} ({self.precision_reason})."
        )
        self._say(
            f"  Data: {run.train_examples} training frames ({config.data.train_split}) of {config.data.dataset}; "
            f"{total_steps} steps x global "
            f"batch {batch_size} = {total_steps * batch_size} frames drawn "
            f"({total_steps * batch_size / max(run.train_examples, 1):.1f} passes), {total_steps - start} steps to go."
        )
        bar = self._progress(total_steps, start, name)
        t_last, images = time.perf_counter(), 0
        inject = config.trainer.inject_nan_at_step
        current = start
        try:
            for current in range(start, total_steps):
                epoch = current // steps_per_epoch
                nan_now = tf.constant(inject is not None and current == inject)
                try:
                    result = train_step(iterator, tf.constant(task.log_mode(epoch)), nan_now)
                    run.losses = {k: float(v) for k, v in result.items()}
                except tf.errors.InvalidArgumentError as error:
                    if "input pipeline: example" not in str(error):
                        raise
                    raise TrainingError(_bad_example_message(error, config.data.dataset, current)) from None
                self._check_finite(run, current)
                run.step.assign_add(1)
                images += batch_size
                done = current + 1
                if done % config.trainer.log_every_steps == 0 or done == total_steps:
                    now = time.perf_counter()
                    rate = images / max(now - t_last, 1e-9)
                    t_last, images = now, 0
                    run.summaries.scalars(done, run.losses, _learning_rate(optimizer), rate, epoch)
                    if bar is not None:
                        bar.set_postfix(loss=f"{run.losses['total']:.4f}", img_s=f"{rate:.1f}", epoch=epoch + 1)
                if bar is not None:
                    bar.update(1)
                # After the step's scalars: a step taken before the notice is logged like any other.
                self._check_preempted(run, done, bar)
                if done % config.trainer.checkpoint_every_steps == 0 or done == total_steps:
                    run.manager.save(checkpoint_number=done)
                if done % steps_per_epoch == 0 or done == total_steps:
                    run.summaries.images_of(
                        done,
                        lambda: next(iter(task.build_inputs(config.data.eval_split, training=False))),
                        lambda batch: model(task.model_inputs(batch), training=False),
                    )
        except _WORKER_LOST_ERRORS as error:
            if not isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
                raise
            if bar is not None:
                bar.close()
            raise WorkerLostError(_worker_lost_message(error, name, current, run.manager, config)) from None
        if bar is not None:
            bar.close()
        if run.watcher is not None:
            run.watcher.close()
        if total_steps > start:
            run.manager.save(checkpoint_number=total_steps)

    def _check_finite(self, run: _StageRun, current: int) -> None:
        """Stop on a NaN or infinite loss (the step's update was not applied), keeping the last checkpoint."""
        loss = run.losses["total"]
        if not math.isfinite(loss):
            last = run.manager.latest_checkpoint or "none (no step had completed a checkpoint)"
            raise TrainingDivergedError(
                f"The loss became {loss} at step {current} of stage '{run.stage.name}'. The update was "
                f"not applied and training stopped. The last good checkpoint is kept: {last}. Lower "
                f"--learning_rate (now {self.config.optimizer.learning_rate}), add --clipnorm, or check the data."
            )

    def _check_preempted(self, run: _StageRun, done: int, bar) -> None:
        """On a preemption notice: save the checkpoint named by the step, and stop (exit 42)."""
        if run.preemption is not None:  # multi-worker: TF's handler saves on every worker and exits
            run.preemption.save_checkpoint_if_preempted(checkpoint_number=done)
        watcher = run.watcher
        if watcher is not None and watcher.requested and done < run.total_steps:
            path = run.manager.save(checkpoint_number=done)
            if bar is not None:
                bar.close()
            watcher.close()
            raise TrainingPreempted(
                f"preempted (SIGTERM) at step {done} of {run.total_steps} of stage '{run.stage.name}': checkpoint "
                f"{path} saved {watcher.seconds_since():.1f} s after the signal. Run the same command again to "
                f"continue from step {done} (exit status {EXIT_PREEMPTED})."
            )

    def _finish(self, run: _StageRun) -> dict:
        """Validate, then save the weights (the chief; marks the stage complete) or remove a worker's files."""
        stage, model, total_steps = run.stage, run.model, run.total_steps
        document = run.task.validate(
            model, run.stage_dir.path, total_steps, run.losses, write=self.chief, say=self._say
        )
        run.summaries.evaluation(total_steps, document["metrics"])
        digest = weights_digest(model)
        if self.chief:
            run.stage_dir.write_model(model, {**stage.to_dict(), "weights_sha256": digest})  # last: marks it complete
        else:
            task_type, task_id = self._worker()
            self.run_dir.remove_worker_stage(task_type, task_id, stage.name)
            print(
                f"Worker {task_type}-{task_id}: stage '{stage.name}' trained steps {run.start}-{total_steps} of "
                f"{total_steps}; weights sha256 {digest}; its own files removed.",
                flush=True,
            )
        lockstep = isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)
        self._say(
            f"Stage '{stage.name}' weights sha256 {digest}"
            + (" (every worker must end with the same)." if lockstep else ".")
        )
        self.model = model
        return document

    def run_all(self, stages) -> dict[str, dict]:
        return {name: self.run(name) for name in stages}

    # ------------------------------------------------------------------ output
    def _progress(self, total: int, start: int, stage: str):
        if not self.chief:
            return None
        from tqdm import tqdm

        return tqdm(total=total, initial=start, desc=f"stage {stage}", unit="step", dynamic_ncols=True)

    def _say(self, message: str) -> None:
        if self.chief:
            print(message, flush=True)


def training_checkpoint(model, optimizer, step) -> tf.train.Checkpoint:
    """Every variable of the model by its path (BatchNorm statistics included), the optimizer, the step.

    Keyed by ``variable.path`` without the model's own name, which Keras numbers per process.
    Tracking the model object instead misses the layers held in Python lists (the trunk, the
    extractor, the regression convs): their trainable weights survived through the optimizer, but
    their BatchNorm statistics (and, in a frozen module, their weights too) were lost on resume.
    """
    weights = {v.path.split("/", 1)[-1]: v for v in model.weights}
    if len(weights) != len(model.weights):
        raise TrainingError("two model variables share a path; the checkpoint could not tell them apart")
    return tf.train.Checkpoint(weights=weights, optimizer=optimizer, step=step)


def _split_size(builder, split: str) -> int:
    """Examples in ``split`` (TFDS syntax); a split the dataset does not have is refused naming the flag."""
    try:
        size = builder.info.splits[split].num_examples
    except (KeyError, ValueError, TypeError) as error:
        raise TrainingError(
            f"--train_split={split}: not a split of {builder.info.full_name} or a part of one ({error}). Its splits: "
            f"{', '.join(sorted(builder.info.splits))}; a part of one is written like train[:70] or train[:25%]."
        ) from None
    if size < 1:
        raise TrainingError(f"--train_split={split}: holds no example of {builder.info.full_name}")
    return size


def weights_digest(model) -> str:
    """sha256 of every model variable (path, dtype, shape, bytes): equal digests mean equal weights."""
    import hashlib

    digest = hashlib.sha256()
    for variable in sorted(model.weights, key=lambda v: v.path.split("/", 1)[-1]):
        value = keras.ops.convert_to_numpy(variable.value)
        digest.update(f"{variable.path.split('/', 1)[-1]}|{value.dtype}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def restore_training_checkpoint(path: str, checkpoint: tf.train.Checkpoint) -> None:
    """Restore ``path`` into ``checkpoint`` (``training_checkpoint``'s layout); any other layout is refused."""
    try:
        checkpoint.restore(path).assert_existing_objects_matched()
    except (AssertionError, ValueError) as error:  # ValueError: a variable of another shape (e.g. a wider input)
        stage_dir = os.path.dirname(path)
        raise TrainingError(
            f"{path} does not hold this stage's variables by path: it was written by an RSN-TF older than the "
            f"checkpoint layout of training_checkpoint, or for another model ({str(error).splitlines()[0][:200]}). "
            f"Remove {stage_dir}/ckpt-* and {stage_dir}/checkpoint to start the stage again."
        ) from None


def _bad_example_message(error: Exception, dataset: str, step: int) -> str:
    """The example key and field of a failed input-pipeline check (rsn_tf.data.check_example)."""
    import re

    found = re.search(r"input pipeline: example\] \[([^\]]+)\] \[(field [^\]]+)\]", str(error))
    what = f"example {found.group(1)}: {found.group(2)}" if found else str(error).splitlines()[0]
    return (
        f"bad data in {dataset} at step {step}: {what}. The dataset holds a corrupt frame; rebuild it with "
        "rsn-build-dataset (which checks every frame, or skips bad ones with --skip_bad_frames)"
    )


def _learning_rate(optimizer) -> float:
    lr = optimizer.learning_rate
    return float(lr.numpy() if hasattr(lr, "numpy") else lr)


def _worker_lost_message(error: Exception, stage: str, current: int, manager, config: ExperimentConfig) -> str:
    """What happened to the job, in words, and how to go on."""
    detail = " ".join(str(error).split())
    # TF's message names the silent task ("/job:worker/replica:0/task:1") after a long traceback.
    marker = detail.find("The following tasks are unhealthy")
    reason = detail[marker : marker + 200] if marker >= 0 else detail[:300]
    last = manager.latest_checkpoint
    resume = f"they resume from {last}" if last else "no checkpoint was saved yet, so they start this stage again"
    return (
        f"another worker of this multi-worker job died or stopped responding at step {current} of stage '{stage}' "
        f"(TensorFlow: {reason}). The job cannot go on without it, so this worker stopped (exit status "
        f"{EXIT_WORKER_LOST}). Restart every worker with the same command and TF_CONFIG; {resume}. A worker "
        f"silent for {config.runtime.worker_heartbeat_timeout_s:g} s counts as dead (--worker_heartbeat_timeout_s), "
        f"one all-reduce waits at most {config.runtime.collective_timeout_s:g} s (--collective_timeout_s)."
    )
