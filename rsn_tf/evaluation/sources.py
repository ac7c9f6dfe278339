"""What can be evaluated: a depth source turns a dataset batch into predicted maps.

Four kinds, picked from the path given to ``--model`` (or ``--compare``):

* a **SavedModel** (``saved_model.pb``), or an export base holding numbered versions
  (the newest is used): called through ``serving_default`` with uint8 images, exactly
  as TF Serving would;
* a **stage dir** of train.py or of the ablation (``model_config.json`` and module
  weights): rebuilt with the stage's switches from ``stage.json``, so a teacher-forced
  refinement stage is fed the ground-truth region support and a semantic-guidance
  stage the label map;
* a **train.py --model_dir** (stage dirs inside): the most finished stage, or ``stage``;
* a **.keras** file;
* a **directory of stored predictions**, ``<key>.npy`` (H, W) metres, one per example
  (any method's output; a different size is resized bilinearly to the evaluation size).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable

import numpy as np
import tensorflow as tf

from rsn_tf.training.stage_dir import COMPLETE_STAGES, find_stage_dirs, load_stage_model

__all__ = ["DepthSource", "SourceError", "load_source"]


class SourceError(ValueError):
    """The path is not something we can evaluate; the message says what was expected."""


@dataclasses.dataclass
class DepthSource:
    """``predict(batch) -> {"depth": (B, H, W), "region_support": (B, H, W) or None}`` in metres."""

    name: str
    path: str
    predict: Callable[[dict], dict]
    model_size: tuple[int, int] | None = None      # the resolution the network runs at, if known


def _keras_source(name: str, path: str, model) -> DepthSource:
    """Run a Keras RSN on batches at any size: resized to the model's resolution and back.

    Only the inputs the model's switches use are read from the batch (and must be there):
    ``region_support`` for a teacher-forced stage, ``label`` for semantic guidance. A batch
    of images alone is enough for a complete depth model (what rsn_tf.predict sends).
    """
    size = (model.config.height, model.config.width)
    needs = {"region_support": model.teacher_forcing,
             "label": model.config.guidance == "semantic" and not model.generation_only}
    keys = ("image", *(k for k, needed in needs.items() if needed))
    resize = {"image": lambda t: tf.image.resize(tf.cast(t, tf.float32), size, method="bilinear", antialias=True),
              "region_support": lambda t: tf.image.resize(tf.cast(t, tf.float32), size, method="nearest"),
              "label": lambda t: tf.image.resize(t, size, method="nearest")}

    @tf.function(reduce_retracing=True)
    def run(inputs):
        in_size = tf.shape(inputs["image"])[1:3]
        out = model({k: resize[k](v) for k, v in inputs.items()}, training=False)
        back = lambda t: tf.image.resize(t, in_size, method="bilinear")[..., 0]  # noqa: E731
        return back(out["depth"]), back(out["region_support"])

    def predict(batch: dict) -> dict:
        missing = [k for k in keys if k not in batch]
        if missing:
            raise SourceError(f"{path}: this stage needs the ground-truth {', '.join(missing)} as input, "
                              "so it can only be evaluated on a dataset, not run on photos")
        depth, region_support = run({k: batch[k] for k in keys})
        # A teacher-forced stage's "region support" is the ground truth it was given, not a prediction.
        return {"depth": depth.numpy(), "region_support": None if model.teacher_forcing else region_support.numpy()}

    return DepthSource(name, path, predict, size)


def _saved_model_source(name: str, path: str) -> DepthSource:
    loaded = tf.saved_model.load(path)
    if "serving_default" not in loaded.signatures:
        raise SourceError(f"{path}: the SavedModel has no serving_default signature (export it with export.py)")
    fn = loaded.signatures["serving_default"]

    def predict(batch: dict) -> dict:
        images = tf.cast(tf.clip_by_value(tf.round(tf.cast(batch["image"], tf.float32)), 0, 255), tf.uint8)
        out = fn(images=images)
        return {"depth": out["depth"].numpy(), "region_support": out["region_support"].numpy()}

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
        return {"depth": np.stack(maps), "region_support": None}

    return DepthSource(name, path, predict)


def load_source(path: str, name: str | None = None, stage: str | None = None) -> DepthSource:
    """The depth source at ``path`` (see the module docstring for what is accepted)."""
    from rsn_tf.serving.exporter import load_model

    label = name or os.path.basename(os.path.normpath(path))
    if path.endswith(".keras"):
        if not os.path.isfile(path):
            raise SourceError(f"{path}: file not found")
        return _keras_source(label, path, load_model(keras_file=path))
    if not os.path.isdir(path):
        raise SourceError(f"{path}: no such file or directory")
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return _saved_model_source(label, path)
    versions = sorted((int(v) for v in os.listdir(path) if v.isdigit()
                       and os.path.exists(os.path.join(path, v, "saved_model.pb"))), reverse=True)
    if versions:
        return _saved_model_source(name or f"{label}/{versions[0]}", os.path.join(path, str(versions[0])))
    if os.path.exists(os.path.join(path, "model_config.json")):
        model, switches = load_stage_model(path)
        return _keras_source(name or switches.get("name", label), path, model)
    stages = find_stage_dirs(path)
    if stages:
        if stage:
            if stage not in stages:
                raise SourceError(f"--stage={stage}: not a finished stage in {path} (found: {', '.join(stages)})")
            chosen = stage
        else:
            chosen = next((s for s in COMPLETE_STAGES if s in stages), None)
            if chosen is None:
                raise SourceError(f"{path}: none of its stages ({', '.join(stages)}) is a complete depth model; "
                                  "pass --stage to pick one")
        return load_source(stages[chosen], name or chosen)
    if any(f.endswith(".npy") for f in os.listdir(path)):
        return _stored_source(label, path)
    raise SourceError(
        f"{path}: not a SavedModel, an export base, a train.py --model_dir, a stage dir, a .keras file "
        "or a directory of <key>.npy predictions"
    )
