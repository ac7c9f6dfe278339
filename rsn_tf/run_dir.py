"""The one owner of the run and stage directory format. Everything that reads or writes a run
(the trainer, the ablation, evaluation, predict and the exporter) goes through this module.

A **run dir** (``rsn-train --model_dir``, ``rsn-ablation --out``)::

    <run>/config.yaml                  the resolved experiment config of the latest invocation
    <run>/<stage>/                     one stage dir per trained stage (or Table 3 row)

    <run>/.workers/<type>-<index>/<stage>/
                                       multi-worker only: a non-chief worker's own checkpoint
                                       writes (every worker must save; only the chief's count).
                                       Cleared when the worker starts the stage, removed when
                                       it finishes it; never read to resume.

A **stage dir**::

    stage.json                         the manifest: the stage's switches (its StageSpec), the
                                       format version, and "complete": true once every file
                                       below is written. Written first with complete = false,
                                       rewritten last.
    config.yaml                        the resolved experiment config that trained this stage
                                       (a fine-tuned run's names its parent: model.init_from*)
    model_config.json                  the RSNConfig, to rebuild the network
    generation.weights.h5              the module weights that later stages, export and
    refinement.weights.h5              evaluation load
    ckpt-N.index, ckpt-N.data-*,       tf.train.CheckpointManager's files (resume)
    checkpoint
    run_identity.json                  which run the checkpoints belong to (its config hash,
                                       rsn_tf.training.run_identity); a resume from another
                                       run's checkpoints is refused
    logs/train/, logs/eval/            TensorBoard event files
    metrics.json, metrics.md,          the evaluation package's reports on the test split
    per_image.csv

**Completeness** is read from the stage's own manifest, never from its name. A stage that
``serves_images`` (it was not teacher-forced, so it needs only an image) can be exported
and run on photos. Among complete stages, the **most finished** is the one furthest along the
paper's schedule (the manifest's ``schedule_rank``); ties go to the one finished last.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from typing import Any

from rsn_tf.errors import UserError
from rsn_tf.files import atomic_write_json

__all__ = [
    "CONFIG_FILE",
    "MANIFEST_FILE",
    "MODEL_CONFIG_FILE",
    "METRICS_FILE",
    "IDENTITY_FILE",
    "LOGS_DIR",
    "KERAS_WEIGHTS_MEMBER",
    "WORKERS_DIR",
    "MODULES",
    "StageDir",
    "RunDir",
    "RunDirError",
    "RunDirNotWritableError",
    "weights_file",
    "is_checkpoint_file",
]

CONFIG_FILE = "config.yaml"
MANIFEST_FILE = "stage.json"
MODEL_CONFIG_FILE = "model_config.json"
METRICS_FILE = "metrics.json"
LOGS_DIR = "logs"
IDENTITY_FILE = "run_identity.json"
# Not a run dir's: the weights member of a Keras .keras archive, which rsn-train --init_from reads
# (and hashes) when its parent is a .keras file.
KERAS_WEIGHTS_MEMBER = "model.weights.h5"
WORKERS_DIR = ".workers"
MODULES = ("generation", "refinement")
# 2: "complete", "schedule_rank", "figure_column" and "finished_at" in the manifest. A version-1
# manifest (the stage's switches only) never says complete, so its stage is not loaded.
FORMAT_VERSION = 2


def weights_file(module: str) -> str:
    """The file name of a module's weights in a stage dir."""
    if module not in MODULES:
        raise ValueError(f"module: expected one of {MODULES}, got {module!r}")
    return f"{module}.weights.h5"


def is_checkpoint_file(name: str) -> bool:
    """Whether a stage dir's file is tf.train.CheckpointManager's (ckpt-N.*, checkpoint): only resume reads them."""
    return name == "checkpoint" or name.startswith("ckpt-")


class RunDirError(FileNotFoundError):
    """A run or stage dir lacks what was asked of it; the message says what and where."""


class RunDirNotWritableError(UserError, PermissionError):
    """The run dir cannot be created or written; the message names it."""


def _schedule_position(stage: StageDir) -> tuple[int, float]:
    """Where a stage stands in its run: the schedule rank its manifest records, then when it finished."""
    manifest = stage.read_manifest()
    return int(manifest.get("schedule_rank", 0)), float(manifest.get("finished_at", 0.0))


class StageDir:
    """One stage dir: its paths, its manifest and its model."""

    def __init__(self, path: str):
        self.path = os.path.normpath(path)

    def __repr__(self) -> str:
        return f"StageDir({self.path!r})"

    # ---- paths
    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def manifest_path(self) -> str:
        return os.path.join(self.path, MANIFEST_FILE)

    @property
    def config_path(self) -> str:
        return os.path.join(self.path, CONFIG_FILE)

    @property
    def model_config_path(self) -> str:
        return os.path.join(self.path, MODEL_CONFIG_FILE)

    @property
    def metrics_path(self) -> str:
        return os.path.join(self.path, METRICS_FILE)

    def weights_path(self, module: str) -> str:
        return os.path.join(self.path, weights_file(module))

    @property
    def identity_path(self) -> str:
        return os.path.join(self.path, IDENTITY_FILE)

    def latest_checkpoint(self) -> str | None:
        """The newest checkpoint tf.train.CheckpointManager recorded here, or None."""
        import tensorflow as tf

        return tf.train.latest_checkpoint(self.path)

    def read_identity(self) -> dict[str, Any] | None:
        """The run identity written beside the checkpoints (None when there is none)."""
        if not os.path.exists(self.identity_path):
            return None
        with open(self.identity_path) as fh:
            return json.load(fh)

    def write_identity(self, identity: dict[str, Any]) -> None:
        os.makedirs(self.path, exist_ok=True)
        atomic_write_json(self.identity_path, identity)

    def logs_path(self, kind: str) -> str:
        """TensorBoard event dir: ``kind`` is "train" or "eval"."""
        return os.path.join(self.path, LOGS_DIR, kind)

    # ---- manifest
    def read_manifest(self) -> dict[str, Any]:
        """The manifest ({} when there is none: then the dir is no stage)."""
        if not os.path.exists(self.manifest_path):
            return {}
        with open(self.manifest_path) as fh:
            return json.load(fh)

    def _files_present(self) -> bool:
        return os.path.exists(self.model_config_path) and all(os.path.exists(self.weights_path(m)) for m in MODULES)

    def write_started(self, spec: dict[str, Any]) -> None:
        """Mark the stage as in progress (complete = false) before it writes anything else."""
        os.makedirs(self.path, exist_ok=True)
        atomic_write_json(self.manifest_path, {**spec, "format_version": FORMAT_VERSION, "complete": False})

    def write_model(self, model: Any, spec: dict[str, Any]) -> None:
        """Save both modules' weights and the RSNConfig, then mark the stage complete."""
        os.makedirs(self.path, exist_ok=True)
        for module in MODULES:
            getattr(model, module).save_weights(self.weights_path(module))
        atomic_write_json(self.model_config_path, model.config.to_dict())
        manifest = {**spec, "format_version": FORMAT_VERSION, "complete": True, "finished_at": time.time()}
        atomic_write_json(self.manifest_path, manifest)

    @property
    def complete(self) -> bool:
        return bool(self.read_manifest().get("complete")) and self._files_present()

    @property
    def serves_images(self) -> bool:
        """Complete, and needs only an image: not teacher-forced on ground-truth region support."""
        return self.complete and not self.read_manifest().get("teacher_forcing")

    # ---- model
    def load_model(self):
        """``(RegionSupportNetwork, manifest)``; RunDirError names what is missing."""
        from rsn_tf.models import RegionSupportNetwork, RSNConfig

        manifest = self.read_manifest()
        if not manifest.get("complete"):
            raise RunDirError(f"{self.path}: the stage has not finished (its {MANIFEST_FILE} does not say complete)")
        for path in (self.model_config_path, *(self.weights_path(m) for m in MODULES)):
            if not os.path.exists(path):
                raise RunDirError(f"{path}: missing; the stage did not finish")
        with open(self.model_config_path) as fh:
            config = RSNConfig.from_dict(json.load(fh))
        model = RegionSupportNetwork(
            config,
            generation_only=bool(manifest.get("generation_only")),
            teacher_forcing=bool(manifest.get("teacher_forcing")),
        )
        model.build()
        for module in MODULES:
            getattr(model, module).load_weights(self.weights_path(module))
        return model, manifest


class RunDir:
    """A run dir: its config and its stage dirs."""

    def __init__(self, path: str):
        self.path = os.path.normpath(path)

    def __repr__(self) -> str:
        return f"RunDir({self.path!r})"

    @property
    def config_path(self) -> str:
        return os.path.join(self.path, CONFIG_FILE)

    def ensure_writable(self) -> None:
        """Create the run dir and prove a file can be written there, before any training starts."""
        try:
            os.makedirs(self.path, exist_ok=True)
            probe = os.path.join(self.path, f".write_test_{uuid.uuid4().hex[:12]}")
            with open(probe, "w") as fh:
                fh.write("ok")
            os.remove(probe)
        except OSError as error:
            raise RunDirNotWritableError(
                f"--model_dir={self.path} is not writable ({error.__class__.__name__}: {error.strerror or error}). "
                "Pick a directory you can write to, e.g. --model_dir=runs/rsn."
            ) from error

    def stage(self, name: str) -> StageDir:
        return StageDir(os.path.join(self.path, name))

    def worker_stage(self, task_type: str, task_id: int, name: str) -> StageDir:
        """A non-chief worker's own dir for stage ``name``: inside this run, one per worker."""
        return StageDir(os.path.join(self.path, WORKERS_DIR, f"{task_type}-{task_id}", name))

    def remove_worker_stage(self, task_type: str, task_id: int, name: str) -> None:
        """Remove a worker's dir for stage ``name``, and the worker dirs it leaves empty."""
        import shutil

        stage = self.worker_stage(task_type, task_id, name)
        shutil.rmtree(stage.path, ignore_errors=True)
        for parent in (os.path.dirname(stage.path), os.path.join(self.path, WORKERS_DIR)):
            with contextlib.suppress(OSError):
                os.rmdir(parent)  # only when empty

    def complete_stages(self) -> dict[str, StageDir]:
        """Stage name -> StageDir for every complete stage, in schedule order (rank, then finish time)."""
        if not os.path.isdir(self.path):
            return {}
        stages = [
            self.stage(n)
            for n in sorted(os.listdir(self.path))
            if n != WORKERS_DIR and os.path.isdir(os.path.join(self.path, n))
        ]
        complete = [s for s in stages if s.complete]
        return {s.name: s for s in sorted(complete, key=_schedule_position)}

    def most_finished(self, serves_images: bool = True) -> StageDir | None:
        """The complete stage furthest along the schedule (last finished on a tie), or None."""
        candidates = [s for s in self.complete_stages().values() if s.serves_images or not serves_images]
        return candidates[-1] if candidates else None

    def select_stage(self, name: str | None = None, serves_images: bool = True) -> StageDir:
        """The stage ``name`` (must be complete), or the most finished one; RunDirError says why not.

        With ``serves_images``, a teacher-forced stage (it needs the ground-truth region
        support) is refused: it cannot be exported or run on photos.
        """
        stages = self.complete_stages()
        if name:
            if name not in stages:
                found = ", ".join(stages) or "none"
                raise RunDirError(f"--stage={name}: not a finished stage in {self.path} (finished: {found})")
            stage = stages[name]
            if serves_images and not stage.serves_images:
                raise RunDirError(
                    f"--stage={name} refines the ground-truth region support (teacher forcing), which a served "
                    "model does not have; its generation module is untrained. Pick a stage whose generation "
                    "module was trained (a later stage of the schedule)."
                )
            return stage
        stage = self.most_finished(serves_images)
        if stage is None:
            what = "finished stage" + (" that runs on images alone" if serves_images and stages else "")
            finished = f"; finished: {', '.join(stages)}" if stages else ""
            raise RunDirError(
                f"{self.path}: no {what} (looked for {MANIFEST_FILE} saying complete in its stage dirs{finished}). "
                f"Train first: rsn-train --model_dir={self.path}"
            )
        return stage

    def figure_columns(self) -> dict[str, StageDir]:
        """Figure 3 column label -> the complete stage that provides it (by its manifest)."""
        out: dict[str, StageDir] = {}
        for stage in self.complete_stages().values():
            label = stage.read_manifest().get("figure_column")
            if label and label not in out:
                out[label] = stage
        return out

    @staticmethod
    def is_run_dir(path: str) -> bool:
        return bool(RunDir(path).complete_stages())
