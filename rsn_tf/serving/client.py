"""Client for a TF Serving endpoint that serves the exported Region Support Network.

It sends encoded images to the ``predict_image_bytes`` signature, over REST (JSON; the
bytes as ``{"b64": ...}``) or gRPC (``PredictionServiceStub``). The rsn-serve-client CLI
(rsn_tf/cli/serve_client.py) then writes the depth files of rsn_tf.depth_files.

REST follows TF Serving's documented schema: a request is ``{"signature_name": ...,
"instances": [...]}`` (row format) or ``{"inputs": ...}`` (columnar); a reply is
``{"predictions": [...]}`` or ``{"outputs": {...}}``, with outputs whose names end in
``_bytes`` base64-encoded as ``{"b64": ...}``; errors come back as ``{"error": ...}``.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tensorflow_serving.apis import predict_pb2

__all__ = [
    "ServingError",
    "build_rest_request",
    "parse_rest_response",
    "rest_predict",
    "build_grpc_request",
    "parse_grpc_response",
    "grpc_predict",
    "model_status",
    "check_health",
    "read_serving_info",
    "write_outputs",
]

SIGNATURE = "predict_image_bytes"


class ServingError(RuntimeError):
    """The server answered with an error, or an answer this client cannot read."""


# ------------------------------------------------------------------ REST


def build_rest_request(images: Sequence[bytes], signature: str = SIGNATURE, columnar: bool = False) -> dict:
    """The JSON body for POST /v1/models/<name>:predict."""
    encoded = [{"b64": base64.b64encode(data).decode("ascii")} for data in images]
    if columnar:
        return {"signature_name": signature, "inputs": {"image_bytes": encoded}}
    return {"signature_name": signature, "instances": [{"image_bytes": e} for e in encoded]}


def _decode_value(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    return value


def _image_result(outputs: dict) -> dict:
    out = {}
    for name, value in outputs.items():
        value = _decode_value(value)
        out[name] = value if isinstance(value, bytes) else np.asarray(value, np.float32)
    if "depth" not in out:
        raise ServingError(f"the reply has no 'depth' output (outputs: {sorted(out)})")
    return out


def parse_rest_response(body: dict) -> list[dict]:
    """One dict per image: 'depth' (H, W) float32 and, when present, 'region_support' and 'depth_png_bytes'."""
    if "error" in body:
        raise ServingError(f"TF Serving: {body['error']}")
    if "predictions" in body:
        predictions = body["predictions"]
        if predictions and not isinstance(predictions[0], dict):  # a single output is returned bare
            predictions = [{"depth": p} for p in predictions]
        return [_image_result(p) for p in predictions]
    if "outputs" in body:
        outputs = body["outputs"]
        if not isinstance(outputs, dict):
            outputs = {"depth": outputs}
        count = len(next(iter(outputs.values())))
        return [_image_result({k: v[i] for k, v in outputs.items()}) for i in range(count)]
    raise ServingError(f"unexpected reply: neither 'predictions' nor 'outputs' (keys: {sorted(body)})")


def rest_predict(server: str, model: str, images: Sequence[bytes], timeout: float = 60.0) -> list[dict]:
    url = f"{server.rstrip('/')}/v1/models/{model}:predict"
    data = json.dumps(build_rest_request(images)).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            body = json.load(reply)
    except urllib.error.HTTPError as error:  # TF Serving puts {"error": ...} in 4xx bodies
        try:
            body = json.load(error)
        except ValueError:
            raise ServingError(f"{url}: HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise ServingError(f"{url}: cannot connect ({error.reason}); is TF Serving running?") from error
    return parse_rest_response(body)


# ------------------------------------------------------------------ health and bundle


def model_status(server: str, model: str, timeout: float = 10.0) -> dict:
    """TF Serving's model status (GET /v1/models/<name>): ``{"model_version_status": [...]}``."""
    url = f"{server.rstrip('/')}/v1/models/{model}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return json.load(reply)
    except urllib.error.HTTPError as error:
        try:
            detail = json.load(error).get("error", error.reason)
        except ValueError:
            detail = error.reason
        raise ServingError(f"{url}: HTTP {error.code}: {detail}") from error
    except urllib.error.URLError as error:
        raise ServingError(f"{url}: cannot connect ({error.reason}); is TF Serving running?") from error
    except ValueError as error:
        raise ServingError(f"{url}: the reply is not TF Serving's JSON model status ({error})") from error


def check_health(server: str, model: str, version: int | None = None, timeout: float = 10.0) -> str:
    """A one-line verdict when the model (or ``version``) is AVAILABLE; ServingError saying what it is otherwise.

    An answering port is not enough: a version that is still LOADING, or that failed to load
    (state END with an error), cannot serve requests.
    """
    statuses = model_status(server, model, timeout).get("model_version_status") or []
    if version is not None:
        statuses = [s for s in statuses if str(s.get("version")) == str(version)]
    if not statuses:
        raise ServingError(f"{server}: model {model!r}" + (f" version {version}" if version else "") + " is not known")
    available = [s for s in statuses if s.get("state") == "AVAILABLE"]
    if available:
        versions = ", ".join(str(s.get("version")) for s in available)
        return f"{server}: model {model!r} version {versions} AVAILABLE"
    described = "; ".join(
        f"version {s.get('version')}: {s.get('state')}"
        + (f" ({s['status'].get('error_message')})" if s.get("status", {}).get("error_message") else "")
        for s in statuses
    )
    raise ServingError(f"{server}: model {model!r} is not available: {described}")


def read_serving_info(path: str) -> dict:
    """serving_info.json of an exported version (``path``: the version dir, or an export base's model dir)."""
    from rsn_tf.serving.bundle import SERVING_INFO_FILE

    candidates = [path, os.path.join(path, SERVING_INFO_FILE)]
    if os.path.isdir(path):
        versions = sorted((int(v) for v in os.listdir(path) if v.isdigit()), reverse=True)
        candidates += [os.path.join(path, str(v), SERVING_INFO_FILE) for v in versions]
    for candidate in candidates:
        if os.path.isfile(candidate) and candidate.endswith(".json"):
            with open(candidate) as fh:
                return json.load(fh)
    raise ServingError(f"{path}: no {SERVING_INFO_FILE} (export the model again with rsn-export to write one)")


# ------------------------------------------------------------------ gRPC


def build_grpc_request(
    images: Sequence[bytes], model: str = "rsn", signature: str = SIGNATURE
) -> predict_pb2.PredictRequest:
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto(list(images), dtype=tf.string))
    return request


def parse_grpc_response(response: predict_pb2.PredictResponse) -> list[dict]:
    import tensorflow as tf

    arrays = {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
    if "depth" not in arrays:
        raise ServingError(f"the reply has no 'depth' output (outputs: {sorted(arrays)})")
    out = []
    for i in range(arrays["depth"].shape[0]):
        item = {}
        for name, value in arrays.items():
            item[name] = bytes(value[i]) if value.dtype == object else value[i].astype(np.float32)
        out.append(item)
    return out


def grpc_predict(target: str, model: str, images: Sequence[bytes], timeout: float = 60.0) -> list[dict]:
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(build_grpc_request(images, model), timeout=timeout)
        except grpc.RpcError as error:
            raise ServingError(f"{target}: {error.code().name}: {error.details()}") from error
    return parse_grpc_response(response)


# ------------------------------------------------------------------ outputs


def write_outputs(
    result: dict, out_dir: str, stem: str, known: Sequence[str] = (), sparse_depth: str | None = None, **fit
) -> list[str]:
    """Write the 16-bit mm PNG (the server's own, when it sent one), the colour PNG and the .npy,
    and the confidence map when the model serves one.

    With ``known`` (``"x,y,metres"`` strings) or ``sparse_depth`` (a file), the depth is first
    calibrated (rsn_tf.calibration; ``fit`` holds fit_calibration's options), the PNG is
    re-encoded from the calibrated depth and ``<stem>_calibration.json`` is written too.
    """
    from rsn_tf.calibration import calibrate, known_from_sparse, load_sparse_depth, parse_known
    from rsn_tf.depth_files import write_depth_files
    from rsn_tf.files import atomic_write_json

    depth, png_bytes, record = result["depth"], result.get("depth_png_bytes"), None
    if known or sparse_depth:
        height, width = depth.shape
        points = (
            parse_known(known, height, width)
            if known
            else known_from_sparse(load_sparse_depth(sparse_depth), height, width, sparse_depth)
        )
        depth, calibration = calibrate(depth, points, **fit)
        png_bytes, record = None, calibration.to_dict()
    paths = write_depth_files(depth, out_dir, stem, png_bytes=png_bytes, confidence=result.get("confidence"))
    written = [paths[k] for k in ("depth_png", "color_png", "npy", "confidence_png", "confidence_npy") if k in paths]
    if record is not None:
        written.append(os.path.join(out_dir, f"{stem}_calibration.json"))
        atomic_write_json(written[-1], record)
    return written
