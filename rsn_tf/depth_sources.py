"""What can be evaluated: a depth source turns a dataset batch into predicted maps.

Four kinds, picked from the path given to ``--model`` (or ``--compare``):

* a **SavedModel** (``saved_model.pb``), or an export base holding numbered versions
  (the newest is used): called through ``serving_default`` with uint8 images, exactly
  as TF Serving would;
* a **stage dir** of rsn-train or of the ablation (see ``rsn_tf.run_dir``): rebuilt with
  the switches its manifest records, so a teacher-forced refinement stage is fed the
  ground-truth region support and a semantic-guidance stage the label map;
* a **run dir** (rsn-train --model_dir, rsn-ablation --out): the most finished stage
  that runs on images alone, or ``stage``;
* a **.keras** file;
* a **directory of stored predictions**, ``<key>.npy`` (H, W) metres, one per example
  (any method's output; a different size is resized bilinearly to the evaluation size);
* a **LiteRT model** (``.tflite``, from ``rsn-export --format=tflite``), run in LiteRT's
  interpreter one image at a time at its fixed input size (photos resized in and out);
* ``constant:<metres>``: the same depth everywhere, the baseline a model must beat (for
  example the training set's median depth).

This module owns the choice (which kind a path is) and the wrapping (uint8 in, metres out at
the batch's size); reading the files is below it (rsn_tf.model_loading, rsn_tf.run_dir), and it
imports nothing from serving, evaluation, prediction, the demo, the CLIs or training.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from rsn_tf.model_loading import LiteRTModel, ModelLoadError, load_keras_file
from rsn_tf.run_dir import MANIFEST_FILE, RunDir, RunDirError, StageDir

if TYPE_CHECKING:
    from rsn_tf.models import RegionSupportNetwork

__all__ = ["DepthSource", "SourceError", "constant_source", "keras_source", "load_source"]


class SourceError(ValueError):
    """The path is not something we can evaluate; the message says what was expected."""


@dataclasses.dataclass
class DepthSource:
    """``predict(batch) -> {"depth": (B, H, W), "region_support": (B, H, W) or None}`` in metres."""

    name: str
    path: str
    predict: Callable[[dict], dict]
    model_size: tuple[int, int] | None = None  # the resolution the network runs at, if known
    manifest: dict | None = None  # a stage dir's manifest (its switches and Figure 3 column)


def keras_source(
    name: str,
    path: str,
    model: RegionSupportNetwork,
    manifest: dict | None = None,
    confidence: str | None = None,
) -> DepthSource:
    """Run a Keras RSN on batches at any size: resized to the model's resolution and back.

    Only the inputs the model's switches use are read from the batch (and must be there):
    ``region_support`` for a teacher-forced stage, ``label`` for semantic guidance. A batch
    of images alone is enough for a complete depth model (what rsn-predict sends).
    ``confidence``: also return the per-pixel confidence map made from these signals
    (``flip``, ``iterations`` or ``both``; rsn_tf/confidence.py).
    """
    from rsn_tf.confidence import predict_with_confidence

    size = (model.config.height, model.config.width)
    needs = {
        "region_support": model.teacher_forcing,
        "label": model.config.guidance == "semantic" and not model.generation_only,
    }
    keys = ("image", *(k for k, needed in needs.items() if needed))
    resize = {
        "image": lambda t: tf.image.resize(tf.cast(t, tf.float32), size, method="bilinear", antialias=True),
        "region_support": lambda t: tf.image.resize(tf.cast(t, tf.float32), size, method="nearest"),
        "label": lambda t: tf.image.resize(t, size, method="nearest"),
    }

    @tf.function(reduce_retracing=True)
    def run(inputs):
        in_size = tf.shape(inputs["image"])[1:3]
        resized = {k: resize[k](v) for k, v in inputs.items()}
        if confidence:
            out = predict_with_confidence(model, resized, confidence)
        else:
            out = model(resized, training=False)
        back = lambda t: tf.image.resize(t, in_size, method="bilinear")[..., 0]  # noqa: E731
        return back(out["depth"]), back(out["region_support"]), back(out["confidence"] if confidence else out["depth"])

    def predict(batch: dict) -> dict:
        missing = [k for k in keys if k not in batch]
        if missing:
            raise SourceError(
                f"{path}: this stage needs the ground-truth {', '.join(missing)} as input, "
                "so it can only be evaluated on a dataset, not run on photos"
            )
        depth, region_support, conf = run({k: batch[k] for k in keys})
        # A teacher-forced stage's "region support" is the ground truth it was given, not a prediction.
        return {
            "depth": depth.numpy(),
            "region_support": None if model.teacher_forcing else region_support.numpy(),
            "confidence": conf.numpy() if confidence else None,
        }

    return DepthSource(name, path, predict, size, manifest)


def _saved_model_source(name: str, path: str) -> DepthSource:
    loaded = tf.saved_model.load(path)
    if "serving_default" not in loaded.signatures:
        raise SourceError(f"{path}: the SavedModel has no serving_default signature (export it with export.py)")
    fn = loaded.signatures["serving_default"]

    def predict(batch: dict) -> dict:
        images = tf.cast(tf.clip_by_value(tf.round(tf.cast(batch["image"], tf.float32)), 0, 255), tf.uint8)
        out = fn(images=images)
        return {
            "depth": out["depth"].numpy(),
            "region_support": out["region_support"].numpy(),
            # Present when exported with --include_confidence.
            "confidence": out["confidence"].numpy() if "confidence" in out else None,
        }

    return DepthSource(name, path, predict)


def _stored_source(name: str, path: str) -> DepthSource:
    import cv2

    def predict(batch: dict) -> dict:
        height, width = batch["depth"].shape[1:3]
        maps = []
        for key in np.asarray(batch["key"]):
            key = key.decode() if isinstance(key, bytes) else str(key)
            file = os.path.join(path, key.replace("/", "_") + ".npy")
            if not os.path.exists(file):
                raise SourceError(f"{file}: no stored prediction for example {key!r}")
            depth = np.load(file).astype(np.float32)
            if depth.ndim == 3 and depth.shape[-1] == 1:
                depth = depth[..., 0]
            if depth.ndim != 2:
                raise SourceError(f"{file}: expected an (H, W) depth map in metres, got shape {depth.shape}")
            if depth.shape != (height, width):
                depth = cv2.resize(depth, (width, height), interpolation=cv2.INTER_LINEAR)
            maps.append(depth)
        return {"depth": np.stack(maps), "region_support": None, "confidence": None}

    return DepthSource(name, path, predict)


def _litert_source(name: str, path: str) -> DepthSource:
    try:
        litert = LiteRTModel(path)
    except (ValueError, RuntimeError) as error:
        raise SourceError(f"{path}: not a LiteRT model LiteRT can load ({error})") from error

    def predict(batch: dict) -> dict:
        images = np.clip(np.round(np.asarray(batch["image"], np.float32)), 0, 255).astype(np.uint8)
        depth = np.stack([litert.predict(image) for image in images])
        return {"depth": depth, "region_support": None, "confidence": None}

    return DepthSource(name, path, predict, litert.size)


CONSTANT_PREFIX = "constant:"


def constant_source(metres: float, name: str | None = None) -> DepthSource:
    """Predicts ``metres`` at every pixel."""
    if not np.isfinite(metres) or metres <= 0:
        raise SourceError(f"{CONSTANT_PREFIX}{metres}: the constant depth must be a positive number of metres")

    def predict(batch: dict) -> dict:
        shape = np.shape(batch["depth"])[:3]
        return {"depth": np.full(shape, metres, np.float32), "region_support": None, "confidence": None}

    return DepthSource(name or f"constant {metres:g} m", f"{CONSTANT_PREFIX}{metres:g}", predict)


def _stage_source(stage: StageDir, name: str | None, confidence: str | None = None) -> DepthSource:
    try:
        model, manifest = stage.load_model()
    except RunDirError as error:
        raise SourceError(str(error)) from error
    return keras_source(name or manifest.get("name", stage.name), stage.path, model, manifest, confidence)


def load_source(
    path: str, name: str | None = None, stage: str | None = None, confidence: str | None = None
) -> DepthSource:
    """The depth source at ``path`` (see the module docstring for what is accepted).

    ``confidence`` (signals: ``flip``, ``iterations``, ``both``): Keras models also return a
    confidence map; a SavedModel does when it was exported with --include_confidence (with
    the signals chosen then); other sources return None for it.
    """
    if path.startswith(CONSTANT_PREFIX):
        try:
            return constant_source(float(path[len(CONSTANT_PREFIX) :]), name)
        except ValueError as error:
            raise SourceError(f"{path}: expected constant:<metres>, e.g. constant:2.5 ({error})") from error
    label = name or os.path.basename(os.path.normpath(path))
    if path.endswith(".tflite"):
        if not os.path.isfile(path):
            raise SourceError(f"{path}: file not found")
        return _litert_source(label, path)
    if path.endswith(".keras"):
        if not os.path.isfile(path):
            raise SourceError(f"{path}: file not found")
        try:
            return keras_source(label, path, load_keras_file(path), confidence=confidence)
        except ModelLoadError as error:
            raise SourceError(str(error)) from error
    if not os.path.isdir(path):
        raise SourceError(f"{path}: no such file or directory")
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return _saved_model_source(label, path)
    versions = sorted(
        (int(v) for v in os.listdir(path) if v.isdigit() and os.path.exists(os.path.join(path, v, "saved_model.pb"))),
        reverse=True,
    )
    if versions:
        return _saved_model_source(name or f"{label}/{versions[0]}", os.path.join(path, str(versions[0])))
    if os.path.exists(os.path.join(path, MANIFEST_FILE)):
        return _stage_source(StageDir(path), name, confidence)
    run = RunDir(path)
    if run.complete_stages():
        try:
            # A named stage may be teacher-forced (it is fed the ground truth); the default is
            # the most finished stage that needs only images.
            chosen = run.select_stage(stage, serves_images=stage is None)
        except RunDirError as error:
            raise SourceError(str(error)) from error
        return _stage_source(chosen, name or chosen.name, confidence)
    if any(f.endswith(".npy") for f in os.listdir(path)):
        return _stored_source(label, path)
    raise SourceError(
        f"{path}: not a SavedModel, an export base, a rsn-train --model_dir, a stage dir, a .keras file "
        "or a directory of <key>.npy predictions"
    )
