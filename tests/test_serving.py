"""Export and serving: real SavedModels checked with saved_model_cli and a fresh TensorFlow process."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import tensorflow as tf
from conftest import built_tiny_model

from rsn_tf.model_loading import ModelLoadError, load_keras_file, load_model
from rsn_tf.serving import exporter
from rsn_tf.serving.exporter import export_saved_model
from rsn_tf.serving.signatures import DepthServer, ServingLimits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_PHOTOS = sorted(glob.glob(os.path.join(ROOT, "..", "shared", "data", "real_indoor", "*_image.png")))
needs_shared = pytest.mark.skipif(not REAL_PHOTOS, reason="the shared test data (../shared/data/real_indoor) is absent")
SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
LIMITS = ServingLimits(max_side=700, max_batch=3)


def _export(m, target) -> None:
    export_saved_model(m, str(target / "export"), "rsn", limits=LIMITS, include_iterations=True)


@pytest.fixture(scope="module")
def built(shared_root):
    """A tiny model and its SavedModel (both signatures, every iteration), built once per test run (read only)."""
    return built_tiny_model(shared_root, "serving_export", _export)


@pytest.fixture(scope="module")
def model(built):
    return load_keras_file(str(built / "model.keras"))


@pytest.fixture(scope="module")
def exported(built):
    return str(built / "export" / "rsn" / "1")


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(exported)


def cli(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([SAVED_MODEL_CLI, *args], capture_output=True, text=True, timeout=300, env=env)


def png_bytes(image: np.ndarray) -> bytes:
    return tf.io.encode_png(image).numpy()


# ------------------------------------------------------------------ layout and signatures


def test_versioned_layout_and_models_config(exported):
    base = os.path.dirname(exported)
    assert os.path.basename(exported) == "1"
    assert os.path.exists(os.path.join(exported, "saved_model.pb"))
    assert os.path.exists(os.path.join(exported, "assets.extra", "tf_serving_warmup_requests"))
    assert not [n for n in os.listdir(base) if n.startswith(".")]  # no temporary dirs left
    config = open(os.path.join(os.path.dirname(base), "models.config")).read()
    assert "name: 'rsn'" in config and "base_path: '/models/rsn'" in config and "model_platform: 'tensorflow'" in config


@pytest.mark.slow
def test_saved_model_cli_shows_both_signatures(exported):
    result = cli("show", "--dir", exported, "--all")
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    default = out[out.index("signature_def['serving_default']") :]
    assert "inputs['images']" in default and "DT_UINT8" in default and "shape: (-1, -1, -1, 3)" in default
    for name in ("depth", "region_support", "depth_iteration_3"):
        assert f"outputs['{name}']" in default
    by_bytes = out[out.index("signature_def['predict_image_bytes']") : out.index("signature_def['serving_default']")]
    assert "inputs['image_bytes']" in by_bytes and "DT_STRING" in by_bytes and "shape: (-1)" in by_bytes
    assert "outputs['depth_png_bytes']" in by_bytes


@pytest.mark.slow
def test_saved_model_cli_run_on_a_npy_file(exported, tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (2, 37, 53, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    result = cli(
        "run",
        "--dir",
        exported,
        "--tag_set",
        "serve",
        "--signature_def",
        "serving_default",
        "--inputs",
        f"images={tmp_path / 'x.npy'}",
        "--outdir",
        str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    depth = np.load(tmp_path / "out" / "depth.npy")
    assert depth.shape == (2, 37, 53) and np.all(depth > 0)


# ------------------------------------------------------------------ same results everywhere


@pytest.mark.slow
@needs_shared
def test_fresh_process_gives_the_keras_models_depth(model, exported, tmp_path):
    photo = cv2.cvtColor(cv2.imread(REAL_PHOTOS[0]), cv2.COLOR_BGR2RGB)
    rng = np.random.default_rng(1)
    inputs = {
        "photo": photo[None],  # a real 480x640 indoor photo
        "odd": rng.integers(0, 256, (1, 97, 131, 3), dtype=np.uint8),
        "pair": rng.integers(0, 256, (2, 60, 30, 3), dtype=np.uint8),
    }
    server = DepthServer(model, LIMITS)
    for name, x in inputs.items():
        np.save(tmp_path / f"{name}.npy", x)
        np.save(tmp_path / f"{name}.expected.npy", server.predict(tf.constant(x))["depth"].numpy())
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        import tensorflow as tf
        loaded = tf.saved_model.load({exported!r})
        fn = loaded.signatures["serving_default"]
        worst = {{}}
        for name in {list(inputs)!r}:
            x = np.load(f"{tmp_path}/{{name}}.npy")
            got = fn(images=tf.constant(x))["depth"].numpy()
            expected = np.load(f"{tmp_path}/{{name}}.expected.npy")
            assert got.shape == expected.shape, (got.shape, expected.shape)
            worst[name] = float(np.max(np.abs(got - expected)))
        worst["imported_project"] = any(m.split(".")[0] in ("rsn_tf", "tfds_nyu") for m in sys.modules)
        print(json.dumps(worst))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out.pop("imported_project") is False
    assert all(v < 1e-4 for v in out.values()), out


@needs_shared
def test_both_signatures_share_one_trace_of_the_network_whatever_the_image_size(model):
    """The network runs at its own resolution, so every request size and both signatures call one
    traced graph function: an export traces the network once, not once per signature."""
    server = DepthServer(model, LIMITS)
    rng = np.random.default_rng(2)
    for shape in ((1, 30, 40, 3), (2, 97, 131, 3)):
        tf.function(server.predict)(tf.constant(rng.integers(0, 256, shape, dtype=np.uint8)))
    tf.function(server.predict_bytes)(tf.constant([png_bytes(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))]))
    assert server._forward.experimental_get_tracing_count() == 1


def test_real_photos_serve_through_the_bytes_signature(loaded):
    fn = loaded.signatures["predict_image_bytes"]
    for path in REAL_PHOTOS:
        data = open(path, "rb").read()
        out = fn(image_bytes=tf.constant([data]))
        depth = out["depth"].numpy()
        assert depth.shape == (1, 480, 640) and np.all(np.isfinite(depth)) and np.all(depth > 0)
        png = tf.io.decode_png(out["depth_png_bytes"][0], dtype=tf.uint16).numpy()[..., 0]
        assert png.dtype == np.uint16 and png.shape == (480, 640)
        np.testing.assert_array_equal(png, np.clip(np.round(depth[0] * 1000), 0, 65535).astype(np.uint16))


def test_bytes_signature_equals_tensor_signature_on_the_same_png(loaded):
    image = np.random.default_rng(2).integers(0, 256, (45, 70, 3), dtype=np.uint8)
    by_tensor = loaded.signatures["serving_default"](images=tf.constant(image[None]))["depth"].numpy()
    by_bytes = loaded.signatures["predict_image_bytes"](image_bytes=tf.constant([png_bytes(image)]))["depth"].numpy()
    np.testing.assert_array_equal(by_bytes, by_tensor)
    jpeg = tf.io.encode_jpeg(image, quality=100).numpy()
    decoded = tf.io.decode_jpeg(jpeg).numpy()
    by_jpeg = loaded.signatures["predict_image_bytes"](image_bytes=tf.constant([jpeg]))["depth"].numpy()
    expected = loaded.signatures["serving_default"](images=tf.constant(decoded[None]))["depth"].numpy()
    np.testing.assert_allclose(by_jpeg, expected, atol=1e-6)


def test_grayscale_and_rgba_become_rgb(loaded):
    rng = np.random.default_rng(3)
    gray = rng.integers(0, 256, (40, 50, 1), dtype=np.uint8)
    rgba = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    fn = loaded.signatures["predict_image_bytes"]
    tensor = loaded.signatures["serving_default"]
    got_gray = fn(image_bytes=tf.constant([png_bytes(gray)]))["depth"].numpy()
    np.testing.assert_array_equal(got_gray, tensor(images=tf.constant(np.repeat(gray, 3, -1)[None]))["depth"].numpy())
    got_rgba = fn(image_bytes=tf.constant([png_bytes(rgba)]))["depth"].numpy()
    np.testing.assert_array_equal(got_rgba, tensor(images=tf.constant(rgba[None, ..., :3]))["depth"].numpy())


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "payload, message",
    [
        ([b"this is not an image"], "not a JPEG or PNG image"),
        ([b""], "empty string"),
        ([b"\x89PNG\r\n\x1a\n"], "truncated PNG header"),
        (["big"], "exceeds the limit of 700"),
        (["mixed"], "must have the same size"),
        (["batch"], "too many images in one request; the limit is 3"),
        ([], "the batch is empty"),
    ],
)
def test_bad_bytes_are_invalid_argument_and_the_model_keeps_serving(loaded, payload, message):
    rng = np.random.default_rng(4)
    if payload == ["big"]:
        payload = [png_bytes(rng.integers(0, 256, (10, 701, 3), dtype=np.uint8))]
    elif payload == ["mixed"]:
        payload = [png_bytes(rng.integers(0, 256, s, dtype=np.uint8)) for s in ((20, 30, 3), (30, 20, 3))]
    elif payload == ["batch"]:
        payload = [png_bytes(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))] * 4
    fn = loaded.signatures["predict_image_bytes"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        fn(image_bytes=tf.constant(payload, dtype=tf.string))
    ok = fn(image_bytes=tf.constant([png_bytes(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))]))
    assert ok["depth"].shape == (1, 8, 8)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((1, 0, 10, 3), "zero-sized image"),
        ((1, 10, 0, 3), "zero-sized image"),
        ((1, 701, 20, 3), "exceeds the limit of 700"),
        ((4, 8, 8, 3), "too many images"),
    ],
)
def test_bad_tensors_are_invalid_argument(loaded, shape, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        loaded.signatures["serving_default"](images=tf.zeros(shape, tf.uint8))


# ------------------------------------------------------------------ warm-up, versions, atomicity


def test_warmup_records_parse_and_run_against_the_saved_model(exported, loaded):
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(exported, "assets.extra", "tf_serving_warmup_requests")
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]
    assert len(logs) == 3
    signatures = set()
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == "rsn"
        signatures.add(request.model_spec.signature_name)
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        out = loaded.signatures[request.model_spec.signature_name](**{k: tf.constant(v) for k, v in inputs.items()})
        assert np.all(np.isfinite(out["depth"].numpy()))
    assert signatures == {"serving_default", "predict_image_bytes"}


@pytest.mark.slow
def test_interrupted_export_leaves_no_partial_version(model, tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(exporter, "write_warmup_requests", crash)
    with pytest.raises(RuntimeError, match="simulated"):
        export_saved_model(model, str(tmp_path), "rsn")
    assert os.listdir(tmp_path / "rsn") == []  # neither 1/ nor a temporary directory


@pytest.mark.slow
def test_export_cli_from_a_keras_file_counts_versions_up_refuses_an_overwrite_and_bad_arguments(
    model, tmp_path, capsys
):
    from rsn_tf.cli.export import main as export_main

    path = tmp_path / "rsn.keras"
    model.save(path)
    argv = [f"--keras_model={path}", f"--export_base={tmp_path / 'out'}"]
    # Version 1 is there already (that an empty base gets version 1, the module's `exported` fixture
    # shows), so the export takes the next version, never the same one; a non-integer name is no version.
    (tmp_path / "out" / "rsn" / "1").mkdir(parents=True)
    (tmp_path / "out" / "rsn" / "not-a-version").mkdir()
    assert export_main(argv) == 0
    second = tmp_path / "out" / "rsn" / "2"
    assert f"SavedModel written to {second}" in capsys.readouterr().out
    assert export_main([*argv, "--version=2"]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    (second / "marker").write_text("")
    assert export_main([*argv, "--version=2", "--overwrite"]) == 0
    assert not (second / "marker").exists() and (second / "saved_model.pb").exists()
    assert sorted(os.listdir(tmp_path / "out" / "rsn")) == ["1", "2", "not-a-version"]
    assert export_main([f"--model_dir={tmp_path / 'nothing'}"]) == 2
    err = capsys.readouterr().err
    assert "no finished stage" in err and "Traceback" not in err
    with pytest.raises(ModelLoadError, match="exactly one"):
        load_model()


# ------------------------------------------------------------------ the client (TF Serving schemas)


def test_rest_request_follows_the_row_and_columnar_schemas():
    import base64

    from rsn_tf.serving.client import build_rest_request

    row = build_rest_request([b"\x89PNG-a", b"\xff\xd8-b"])
    assert row == {
        "signature_name": "predict_image_bytes",
        "instances": [
            {"image_bytes": {"b64": base64.b64encode(b"\x89PNG-a").decode()}},
            {"image_bytes": {"b64": base64.b64encode(b"\xff\xd8-b").decode()}},
        ],
    }
    columnar = build_rest_request([b"x"], columnar=True)
    assert columnar == {"signature_name": "predict_image_bytes", "inputs": {"image_bytes": [{"b64": "eA=="}]}}
    json.dumps(row)  # serialisable as is


def test_rest_replies_in_both_formats_parse_to_the_same_result():
    import base64

    from rsn_tf.serving.client import ServingError, parse_rest_response

    depth = [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]
    png = [b"png-0", b"png-1"]
    predictions = {
        "predictions": [
            {
                "depth": depth[i],
                "region_support": depth[i],
                "depth_png_bytes": {"b64": base64.b64encode(png[i]).decode()},
            }
            for i in range(2)
        ]
    }
    outputs = {
        "outputs": {
            "depth": depth,
            "region_support": depth,
            "depth_png_bytes": [{"b64": base64.b64encode(p).decode()} for p in png],
        }
    }
    for body in (predictions, outputs):
        result = parse_rest_response(body)
        assert len(result) == 2
        np.testing.assert_array_equal(result[1]["depth"], depth[1])
        assert result[0]["depth_png_bytes"] == b"png-0" and result[1]["depth"].dtype == np.float32
    bare = parse_rest_response({"predictions": depth})  # a single output comes back bare
    np.testing.assert_array_equal(bare[0]["depth"], depth[0])
    with pytest.raises(ServingError, match="image_bytes: the bytes are not a JPEG or PNG"):
        parse_rest_response({"error": "image_bytes: the bytes are not a JPEG or PNG image"})
    with pytest.raises(ServingError, match="neither 'predictions' nor 'outputs'"):
        parse_rest_response({"result": []})


def test_grpc_request_and_reply_with_the_serving_protos(loaded):
    from tensorflow_serving.apis import predict_pb2

    from rsn_tf.serving.client import build_grpc_request, parse_grpc_response

    image = png_bytes(np.random.default_rng(5).integers(0, 256, (20, 30, 3), dtype=np.uint8))
    request = build_grpc_request([image], model="rsn")
    assert request.model_spec.name == "rsn" and request.model_spec.signature_name == "predict_image_bytes"
    proto = request.inputs["image_bytes"]
    assert proto.dtype == tf.string.as_datatype_enum and proto.string_val == [image]
    # Answer it with the real SavedModel, packed as TF Serving packs a PredictResponse.
    out = loaded.signatures["predict_image_bytes"](image_bytes=tf.make_ndarray(proto))
    response = predict_pb2.PredictResponse()
    for name, value in out.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
    result = parse_grpc_response(response)
    np.testing.assert_array_equal(result[0]["depth"], out["depth"].numpy()[0])
    assert result[0]["depth_png_bytes"] == out["depth_png_bytes"].numpy()[0]


def test_client_writes_png_color_and_npy(tmp_path):
    from rsn_tf.serving.client import write_outputs

    depth = np.linspace(0.5, 9.5, 12, dtype=np.float32).reshape(3, 4)
    paths = write_outputs({"depth": depth}, str(tmp_path), "img")
    png = cv2.imread(paths[0], cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape == (3, 4) and png[0, 0] == 500 and png[-1, -1] == 9500
    color = cv2.imread(paths[1])
    assert color.shape == (3, 4, 3) and color.dtype == np.uint8
    np.testing.assert_array_equal(np.load(paths[2]), depth)


def test_client_calibrates_the_servers_depth_and_writes_its_confidence(tmp_path):
    import json

    from rsn_tf.serving.client import write_outputs

    depth = np.full((6, 8), 2.0, np.float32)
    depth[1, 5] = 4.0
    server_png = cv2.imencode(".png", np.full((6, 8), 2000, np.uint16))[1].tobytes()
    reply = {"depth": depth, "depth_png_bytes": server_png, "confidence": np.full((6, 8), 0.5, np.float32)}
    paths = write_outputs(reply, str(tmp_path), "img", known=["5,1,3.0"])  # column 5, row 1: 4 m -> 3 m
    png = cv2.imread(paths[0], cv2.IMREAD_UNCHANGED)
    assert png[1, 5] == 3000 and png[0, 0] == 1500  # re-encoded from the calibrated depth, not the server's
    assert np.load(str(tmp_path / "img_confidence.npy")).mean() == 0.5
    assert json.loads((tmp_path / "img_calibration.json").read_text())["scale"] == pytest.approx(0.75)


def test_client_reports_an_unreachable_server(tmp_path):
    from rsn_tf.cli.serve_client import main

    photo = str(tmp_path / "photo.png")
    cv2.imwrite(photo, np.full((8, 8, 3), 128, np.uint8))
    port = __import__("socket").socket()
    port.bind(("127.0.0.1", 0))
    free = port.getsockname()[1]
    port.close()
    assert main([photo, f"--server=http://127.0.0.1:{free}", f"--out={tmp_path}", "--timeout=5"]) == 2
