"""Versioned SavedModels that TF Serving loads as they are.

Layout: ``<export_base>/<model_name>/<version>/`` (saved_model.pb, variables/,
assets.extra/tf_serving_warmup_requests), plus ``<export_base>/models.config``.

The write is atomic: the SavedModel is written into a hidden temporary directory
beside the target (same filesystem) and renamed into place at the end. TF Serving
only loads integer-named directories, so a polling server never sees a
half-written version. If anything fails midway, the temporary directory is removed.
"""

from __future__ import annotations

import os
import shutil
import uuid

import keras
import numpy as np
import tensorflow as tf

from rsn_tf.confidence import DEFAULT_CONFIDENCE_SIGNALS
from rsn_tf.models import RegionSupportNetwork
from rsn_tf.serving.bundle import models_config_text, write_serving_bundle
from rsn_tf.serving.signatures import DepthServer, ServingLimits

__all__ = [
    "ExportError",
    "next_version",
    "export_saved_model",
    "write_warmup_requests",
    "write_models_config",
]


class ExportError(ValueError):
    """Bad export arguments; the message says what to change."""


def next_version(base: str) -> int:
    """One more than the highest integer version under ``base`` (1 if none)."""
    if not tf.io.gfile.isdir(base):
        return 1
    versions = [int(n.rstrip("/")) for n in tf.io.gfile.listdir(base) if n.rstrip("/").isdigit()]
    return max(versions, default=0) + 1


def _server_module(
    model, limits: ServingLimits, include_iterations: bool, confidence_signals: str | None
) -> keras.export.ExportArchive:
    server = DepthServer(
        model, limits, include_iterations, confidence_signals is not None, confidence_signals or "flip"
    )
    archive = keras.export.ExportArchive()
    archive.track(model)
    # The first endpoint registered is also serving_default.
    archive.add_endpoint(
        "serving_default",
        server.predict,
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")],
    )
    archive.add_endpoint(
        "predict_image_bytes",
        server.predict_bytes,
        input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")],
    )
    return archive


def write_warmup_requests(saved_model_dir: str, model_name: str, height: int = 48, width: int = 64) -> str:
    """A few PredictionLog records (both signatures) in assets.extra/tf_serving_warmup_requests."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    extra = os.path.join(saved_model_dir, "assets.extra")
    tf.io.gfile.makedirs(extra)
    path = os.path.join(extra, "tf_serving_warmup_requests")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, height, width, 3), dtype=np.uint8)
    png = tf.io.encode_png(image[0]).numpy()
    requests = []
    for batch in (1, 2):
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=model_name, signature_name="serving_default")
        )
        request.inputs["images"].CopyFrom(tf.make_tensor_proto(np.repeat(image, batch, axis=0)))
        requests.append(request)
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name="predict_image_bytes")
    )
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([png], dtype=tf.string))
    requests.append(request)
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def write_models_config(export_base: str, model_name: str, mount_root: str = "/models") -> str:
    """Write ``models.config`` (``models_config_text``) into the export base; returns its path."""
    path = os.path.join(export_base, "models.config")
    with tf.io.gfile.GFile(path, "w") as fh:
        fh.write(models_config_text(model_name, mount_root))
    return path


def export_saved_model(
    model: RegionSupportNetwork,
    export_base: str,
    model_name: str = "rsn",
    version: int | None = None,
    overwrite: bool = False,
    limits: ServingLimits = ServingLimits(),
    include_iterations: bool = False,
    include_confidence: bool = False,
    confidence_signals: str = DEFAULT_CONFIDENCE_SIGNALS,
    provenance: dict | None = None,
) -> str:
    """Write ``<export_base>/<model_name>/<version>/`` atomically; returns its path.

    ``include_confidence``: both signatures also output ``confidence`` from ``confidence_signals``
    (rsn_tf/confidence.py). The version holds its serving bundle (serving_info.json,
    model_card.md; rsn_tf/serving/bundle.py), with ``provenance`` (``bundle.run_provenance``).
    """

    if model.teacher_forcing:
        raise ExportError("the model is in teacher-forcing mode, which needs ground truth; it cannot be served")
    base = os.path.join(export_base, model_name)
    version = next_version(base) if version is None else int(version)
    if version < 1:
        raise ExportError(f"--version={version}: TF Serving versions are positive integers")
    final = os.path.join(base, str(version))
    if tf.io.gfile.exists(final) and not overwrite:
        raise ExportError(f"{final} already exists; pass --overwrite to replace it, or another --version")
    os.makedirs(base, exist_ok=True)
    tmp = os.path.join(base, f".tmp-{version}-{uuid.uuid4().hex[:8]}")
    try:
        _server_module(model, limits, include_iterations, confidence_signals if include_confidence else None).write_out(
            tmp, verbose=False
        )
        write_warmup_requests(tmp, model_name)
        write_serving_bundle(tmp, model, model_name, version, limits, provenance)
        if tf.io.gfile.exists(final):  # --overwrite: swap, then drop the old version
            old = os.path.join(base, f".old-{version}-{uuid.uuid4().hex[:8]}")
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    write_models_config(export_base, model_name)
    return final
