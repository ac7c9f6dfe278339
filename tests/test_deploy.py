"""Deployment: LiteRT variants against the SavedModel, the serving bundle against saved_model_cli,
the client's health probe and --info, and the byte limit of the bytes signature."""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest
import tensorflow as tf
from conftest import built_tiny_model

from rsn_tf.model_loading import LiteRTModel, load_keras_file
from rsn_tf.serving.exporter import export_saved_model
from rsn_tf.serving.litert import LITERT_VARIANTS, export_litert
from rsn_tf.serving.signatures import ServingLimits


def _export(net, target) -> None:
    saved = export_saved_model(net, str(target), "rsn", limits=ServingLimits(max_side=512, max_batch=4, max_bytes=4000))
    litert = export_litert(net, str(target), "rsn", 1)
    (target / "paths.json").write_text(json.dumps({"saved": saved, "litert": litert}))


@pytest.fixture(scope="module")
def built(shared_root):
    """A tiny model, its SavedModel and its LiteRT variants, built once per test run (read only)."""
    return built_tiny_model(shared_root, "deploy_exports", _export, seed=3)


@pytest.fixture(scope="module")
def model(built):
    return load_keras_file(str(built / "model.keras"))


@pytest.fixture(scope="module")
def exports(built):
    paths = json.loads((built / "paths.json").read_text())
    return str(built), paths["saved"], paths["litert"]


def _photos(n: int, size=(48, 64)) -> np.ndarray:
    """Synthetic test frames (rooms rendered by the demo dataset's generator), resized to ``size``."""
    from tfds_nyu.synthetic import make_scene, render

    frames = [render(make_scene(i, seed=7), pose=0, height=120, width=160).image for i in range(n)]
    return np.stack([cv2.resize(f, size[::-1], interpolation=cv2.INTER_AREA) for f in frames])


@pytest.mark.slow
def test_every_litert_variant_agrees_with_the_saved_model(exports):
    base, saved_dir, litert = exports
    saved = tf.saved_model.load(saved_dir)
    images = _photos(4)  # the export allows 4 per request
    reference = saved.signatures["serving_default"](images=tf.constant(images))["depth"].numpy()
    for variant in LITERT_VARIANTS:
        runner = LiteRTModel(litert[variant])
        assert runner.size == (48, 64)
        depth = np.stack([runner.predict(x) for x in images])
        relative = np.abs(depth - reference) / reference
        agree = np.mean(np.maximum(depth / reference, reference / depth) < 1.25)
        if variant == "float32":  # the same ops: equal to float precision
            assert relative.max() < 1e-4, variant
        elif variant == "float16":  # half-precision weights
            assert relative.max() < 0.02 and agree == 1.0, variant
        else:  # int8 weights, activations quantised on the fly
            assert np.median(relative) < 0.05 and agree > 0.95, variant
    info = json.loads(open(litert["info"]).read())
    assert info["input"] == {"name": "image", "dtype": "uint8", "shape": [1, 48, 64, 3], "channels": "RGB 0-255"}
    assert set(info["variants"]) == set(LITERT_VARIANTS)
    assert os.path.getsize(litert["int8"]) < 0.5 * os.path.getsize(litert["float32"])


@pytest.mark.slow
def test_onnx_agrees_with_the_saved_model_in_onnx_runtime(model, exports, tmp_path):
    from rsn_tf.serving.onnx_export import OnnxModel, export_onnx

    _, saved_dir, _ = exports
    path = export_onnx(model, str(tmp_path), "rsn", 1)
    assert path.endswith("rsn_onnx/1/rsn_48x64.onnx")
    runner = OnnxModel(path)
    assert runner.size == (48, 64)
    images = _photos(3)
    reference = tf.saved_model.load(saved_dir).signatures["serving_default"](images=tf.constant(images))["depth"]
    np.testing.assert_allclose(np.stack([runner.predict(x) for x in images]), reference.numpy(), rtol=1e-4)
    # Another photo size goes through the same resize as LiteRT's runner.
    assert runner.predict(_photos(1, (30, 40))[0]).shape == (30, 40)


@pytest.mark.slow
def test_litert_at_another_size_is_the_saved_models_maths(model, tmp_path):
    # Upsampling in (24x32 -> the network's 48x64) involves no antialiasing, so the graphs match exactly.
    paths = export_litert(model, str(tmp_path), "rsn", 1, ("float32",), size=(24, 32))
    saved = tf.saved_model.load(export_saved_model(model, str(tmp_path), "rsn"))
    images = _photos(2, (24, 32))
    reference = saved.signatures["serving_default"](images=tf.constant(images))["depth"].numpy()
    runner = LiteRTModel(paths["float32"])
    assert runner.size == (24, 32)
    np.testing.assert_allclose(np.stack([runner.predict(x) for x in images]), reference, rtol=1e-4)


def _saved_model_cli(path: str) -> dict:
    """{signature: {"inputs"|"outputs": {name: (dtype, shape)}}} parsed from saved_model_cli's own output."""
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    text = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True, text=True, check=True).stdout
    out = {}
    for block in text.split("signature_def['")[1:]:
        name = block.split("'")[0]
        entries = re.findall(r"(inputs|outputs)\['([^']+)'\] tensor_info:\s+dtype: (\w+)\s+shape: \(([^)]*)\)", block)
        out[name] = {"inputs": {}, "outputs": {}}
        for kind, tensor, dtype, shape in entries:
            dims = [int(d) for d in shape.replace(" ", "").split(",") if d]
            out[name][kind][tensor] = (dtype, dims)
    return out


@pytest.mark.slow
def test_every_statement_of_serving_info_holds_against_the_saved_model(exports):
    base, saved_dir, _ = exports
    info = json.loads(open(os.path.join(saved_dir, "serving_info.json")).read())
    shown = _saved_model_cli(saved_dir)
    dtypes = {"uint8": "DT_UINT8", "float32": "DT_FLOAT", "string": "DT_STRING"}
    assert set(info["signatures"]) == {s for s in shown if not s.startswith("__")}
    for name, spec in info["signatures"].items():
        for kind in ("inputs", "outputs"):
            assert set(spec[kind]) == set(shown[name][kind]), (name, kind)
            for tensor, s in spec[kind].items():
                assert (dtypes[s["dtype"]], s["shape"]) == shown[name][kind][tensor], (name, tensor)
            assert all(t in info["units"] for t in spec[kind]), "every tensor has its units"
    assert info["network_size"] == [48, 64]
    assert info["limits"]["max_side"] == 512 and info["limits"]["max_batch"] == 4
    assert info["limits"]["max_image_bytes"] == 4000
    assert "tensorflow/serving:2.21.0" in info["docker_run"] and "MODEL_NAME=rsn" in info["docker_run"]
    assert info["models_config"] == open(os.path.join(base, "models.config")).read()
    # The units and limits it states, checked on the SavedModel itself.
    saved = tf.saved_model.load(saved_dir)
    small = cv2.imencode(".png", _photos(1, (12, 16))[0])[1].tobytes()
    assert len(small) < 4000
    out = saved.signatures["predict_image_bytes"](image_bytes=tf.constant([small]))
    millimetres = cv2.imdecode(np.frombuffer(out["depth_png_bytes"].numpy()[0], np.uint8), cv2.IMREAD_UNCHANGED)
    assert millimetres.dtype == np.uint16
    np.testing.assert_array_equal(millimetres, np.round(out["depth"].numpy()[0] * 1000).astype(np.uint16))
    big = cv2.imencode(".png", np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8))[1].tobytes()
    assert len(big) > 4000
    with pytest.raises(tf.errors.InvalidArgumentError, match="exceeds the limit of 4000 bytes"):
        saved.signatures["predict_image_bytes"](image_bytes=tf.constant([big]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="limit is 4"):
        saved.signatures["serving_default"](images=tf.constant(_photos(5, (8, 8))))
    with pytest.raises(tf.errors.InvalidArgumentError, match="limit of 512 px"):
        saved.signatures["serving_default"](images=tf.zeros((1, 513, 8, 3), tf.uint8))
    card = open(os.path.join(saved_dir, "model_card.md")).read()
    assert "| `serving_default` | input | `images` | uint8 | [-1, -1, -1, 3] | RGB, 0-255 |" in card


@pytest.mark.slow
def test_client_info_prints_the_contract(exports, capsys):
    from rsn_tf.cli.serve_client import main

    base, saved_dir, _ = exports
    assert main([f"--info={os.path.join(base, 'rsn')}"]) == 0  # the newest version of the model dir
    out = capsys.readouterr().out
    assert "rsn version 1" in out and "image_bytes" in out and "metres" in out and "docker run" in out
    assert main([f"--info={base}/nothing"]) == 2


class _FakeStatus(http.server.BaseHTTPRequestHandler):
    """Answers GET /v1/models/rsn with a TF Serving model status document (its documented JSON)."""

    state = "AVAILABLE"

    def do_GET(self):  # noqa: N802
        if self.path.rstrip("/") != "/v1/models/rsn":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"error": "Could not find any versions of model rsn"}')
            return
        status = {"version": "1", "state": self.state, "status": {"error_code": "OK", "error_message": ""}}
        if self.state == "END":
            status["status"] = {"error_code": "UNKNOWN", "error_message": "Could not load the SavedModel"}
        body = json.dumps({"model_version_status": [status]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_health_probe_wants_an_available_version_not_an_open_port(capsys):
    from rsn_tf.cli.serve_client import main

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeStatus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        _FakeStatus.state = "AVAILABLE"
        assert main(["--health", f"--server={url}"]) == 0
        assert "version 1 AVAILABLE" in capsys.readouterr().out
        assert main(["--health", f"--server={url}", "--version=2"]) == 1
        assert "version 2 is not known" in capsys.readouterr().err
        _FakeStatus.state = "LOADING"
        assert main(["--health", f"--server={url}"]) == 1
        assert "not available: version 1: LOADING" in capsys.readouterr().err
        _FakeStatus.state = "END"
        assert main(["--health", f"--server={url}"]) == 1
        assert "Could not load the SavedModel" in capsys.readouterr().err
        assert main(["--health", f"--server={url}", "--model=other"]) == 1
        assert "HTTP 404" in capsys.readouterr().err
    finally:
        server.shutdown()
        server.server_close()
    assert main(["--health", f"--server={url}", "--timeout=3"]) == 1  # nothing listens now
    assert "cannot connect" in capsys.readouterr().err


@pytest.mark.slow
def test_export_cli_writes_litert_beside_the_saved_model_and_refuses_unknown_formats(model, tmp_path, capsys):
    from rsn_tf.cli.export import main

    keras_file = str(tmp_path / "m.keras")
    model.save(keras_file)
    base = str(tmp_path / "exp")
    assert main([f"--keras_model={keras_file}", f"--export_base={base}", "--format=tflite"]) == 0
    assert sorted(os.listdir(os.path.join(base, "rsn_litert", "1"))) == [
        "litert_info.json",
        "rsn_48x64_float16.tflite",
        "rsn_48x64_float32.tflite",
        "rsn_48x64_int8.tflite",
    ]
    assert os.path.exists(os.path.join(base, "rsn", "1", "serving_info.json"))
    assert main([f"--keras_model={keras_file}", f"--export_base={base}", "--format=coreml"]) == 2
    assert "--format=coreml: unknown ['coreml']" in capsys.readouterr().err
    assert main([f"--keras_model={keras_file}", f"--export_base={base}", "--format=tflite", "--litert_size=big"]) == 2
