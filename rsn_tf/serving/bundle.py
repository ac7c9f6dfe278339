"""The serving bundle: what an engineer needs to run an exported version, without reading the code.

Next to each SavedModel version ``<export_base>/<name>/<version>/``:

* ``serving_info.json``: machine-readable. Every signature's inputs and outputs with dtypes
  and shapes (read back from the written SavedModel, not from what we meant to write), units,
  the valid depth range, the default intrinsics, the model (preset, resolution), where it was
  trained and on what, its test metrics with their protocol line, the request limits, the
  ``docker run`` command and ``models.config``; for a fine-tuned run (``rsn-train --init_from``),
  ``training.fine_tuned_from``: the parent's path, stage, dataset and weights hash, as the
  stage's config.yaml records them (``rsn_tf.training.initialization``), and the frozen module;
* ``model_card.md``: the same for people.

``rsn-serve-client --info=<version dir>`` prints them. Extra files in a version directory are
ignored by TF Serving, which loads ``saved_model.pb`` and ``variables/`` only.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import tensorflow as tf

from rsn_tf.depth_files import MM_PER_METRE
from rsn_tf.metrics import VALID_DEPTH_RANGE_M
from rsn_tf.metrics_report import MetricsReport
from tfds_nyu.kinect_camera import KINECT

if TYPE_CHECKING:
    from rsn_tf.models import RegionSupportNetwork
    from rsn_tf.serving.signatures import ServingLimits

__all__ = [
    "SERVING_INFO_FILE",
    "MODEL_CARD_FILE",
    "signature_specs",
    "run_provenance",
    "fine_tuned_from",
    "serving_info",
    "write_serving_bundle",
]

SERVING_INFO_FILE = "serving_info.json"
MODEL_CARD_FILE = "model_card.md"
TF_SERVING_IMAGE = "tensorflow/serving:2.21.0"

_UNITS = {
    "images": "RGB, 0-255",
    "image_bytes": "JPEG or PNG file bytes (REST: {'b64': ...})",
    "depth": "metres",
    "region_support": "metres (the generation module's region support)",
    "confidence": "unitless, (0, 1], 1 = the model agrees with itself",
    "depth_png_bytes": f"16-bit PNG, millimetres (depth x {MM_PER_METRE:g}, rounded, clipped to 0-65535)",
}


def signature_specs(saved_model_dir: str) -> dict:
    """``{signature: {"inputs": {name: {dtype, shape}}, "outputs": {...}}}`` of a written SavedModel.

    Read from its saved_model.pb, what TF Serving and saved_model_cli read, without loading the
    functions (a load restores and re-traces every one of them)."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as fh:
        proto.ParseFromString(fh.read())
    (graph,) = [g for g in proto.meta_graphs if "serve" in g.meta_info_def.tags]
    return {
        name: {
            "inputs": {k: _spec(v) for k, v in sorted(signature.inputs.items())},
            "outputs": {k: _spec(v) for k, v in sorted(signature.outputs.items())},
        }
        for name, signature in sorted(graph.signature_def.items())
        if not name.startswith("__")  # TF's internal __saved_model_init_op
    }


def _spec(tensor_info) -> dict:
    return {
        "dtype": tf.dtypes.as_dtype(tensor_info.dtype).name,
        "shape": [-1 if d.size < 0 else int(d.size) for d in tensor_info.tensor_shape.dim],
    }


def models_config_text(model_name: str, mount_root: str = "/models") -> str:
    """TF Serving's --model_config_file text, for the export base mounted at ``mount_root``."""
    return (
        "model_config_list {\n"
        "  config {\n"
        f"    name: '{model_name}'\n"
        f"    base_path: '{mount_root}/{model_name}'\n"
        "    model_platform: 'tensorflow'\n"
        "  }\n"
        "}\n"
    )


def run_provenance(model_dir: str | None, stage: str | None = None) -> dict:
    """Preset, training data and test metrics of the stage a run dir would export (empty for a .keras file)."""
    if not model_dir:
        return {}
    from rsn_tf import config as config_lib
    from rsn_tf.run_dir import RunDir

    chosen = RunDir(model_dir).select_stage(stage, serves_images=True)
    out: dict = {"training": {"run_dir": os.path.abspath(model_dir), "stage": chosen.name}}
    if os.path.exists(chosen.config_path):
        config = config_lib.load_file(chosen.config_path)
        out["preset"] = config.get("model", {}).get("preset")
        out["training"]["dataset"] = config.get("data", {}).get("dataset")
        parent = fine_tuned_from(config)
        if parent:
            out["training"]["fine_tuned_from"] = parent
    if os.path.exists(chosen.metrics_path):
        report = MetricsReport.read(chosen.metrics_path)
        out["test_metrics"] = {
            "protocol_line": report.protocol_line,
            "protocol": report.protocol,
            "metrics": report.metrics,
            "settings": report.settings,
        }
        out["training"]["steps"] = (report.training or {}).get("steps")
        out["min_depth"], out["max_depth"] = (
            report.settings.get("min_depth", VALID_DEPTH_RANGE_M[0]),
            report.settings.get("max_depth", VALID_DEPTH_RANGE_M[1]),
        )
    return out


def fine_tuned_from(config: dict) -> dict | None:
    """The parent a run's config (nested, as in config.yaml) records, or None when it trained from scratch."""
    model = config.get("model") or {}
    if not model.get("init_from"):
        return None
    return {
        "path": model.get("init_from"),
        "stage": model.get("init_from_stage"),
        "dataset": model.get("init_from_dataset"),
        "weights_sha256": model.get("init_from_sha256"),
        "frozen": (config.get("task") or {}).get("freeze") or "none",
    }


def _docker_run(export_base: str, model_name: str) -> str:
    base = os.path.abspath(os.path.join(export_base, model_name))
    return (
        f"docker run -p 8501:8501 -p 8500:8500 --mount type=bind,source={base},target=/models/{model_name} "
        f"-e MODEL_NAME={model_name} -t {TF_SERVING_IMAGE} --enable_model_warmup=true"
    )


def serving_info(
    version_dir: str,
    model: RegionSupportNetwork,
    model_name: str,
    version: int,
    limits: ServingLimits,
    provenance: dict | None = None,
) -> dict:
    """The serving_info.json document of a written version (see the module docstring)."""
    export_base = os.path.dirname(os.path.dirname(os.path.abspath(version_dir)))
    specs = signature_specs(version_dir)
    provenance = provenance or {}

    info = {
        "model_name": model_name,
        "version": int(version),
        "format": "TensorFlow SavedModel for TF Serving",
        "signatures": specs,
        "units": {
            k: v for k, v in _UNITS.items() if any(k in s["inputs"] or k in s["outputs"] for s in specs.values())
        },
        "input_sizes": "any height and width from 1 to max_side; resized to the network size inside the graph "
        "and every output resized back to the input size",
        "network_size": [int(model.config.height), int(model.config.width)],
        "valid_depth_range_m": [
            provenance.get("min_depth", VALID_DEPTH_RANGE_M[0]),
            provenance.get("max_depth", VALID_DEPTH_RANGE_M[1]),
        ],
        "default_intrinsics": {
            **{k: KINECT[k] for k in ("fx", "fy", "cx", "cy")},
            "at": [KINECT["height"], KINECT["width"]],
            "note": "NYU's Kinect colour camera, scaled to the image; rsn-predict and the web demo use it only "
            "when a photo has no better source (flags, JSON sidecar, EXIF)",
        },
        "model": {"preset": provenance.get("preset"), "config": model.config.to_dict()},
        "training": provenance.get("training", {}),
        "test_metrics": provenance.get("test_metrics", {}),
        "limits": {
            "max_side": limits.max_side,
            "max_pixels": limits.max_side * limits.max_side,
            "max_batch": limits.max_batch,
            "max_image_bytes": limits.max_bytes,
            "on_violation": "InvalidArgument naming the input; the server keeps serving",
        },
        "docker_run": _docker_run(export_base, model_name),
        "models_config": models_config_text(model_name),
        "health": f"GET http://localhost:8501/v1/models/{model_name}/versions/{version}: state AVAILABLE "
        "(rsn-serve-client --health)",
    }
    return info


def _model_card(info: dict) -> str:
    rows = []
    for name, spec in info["signatures"].items():
        for kind in ("inputs", "outputs"):
            for tensor, s in spec[kind].items():
                rows.append(
                    f"| `{name}` | {kind[:-1]} | `{tensor}` | {s['dtype']} | {s['shape']} | "
                    f"{info['units'].get(tensor, '')} |"
                )
    metrics = info["test_metrics"]
    protocol = metrics.get("protocol_line") or "Settings: " + ", ".join(
        f"{k}={v}" for k, v in metrics.get("settings", {}).items()
    )
    metric_lines = (
        [protocol, ""] + [f"- {k}: {v:.4f}" for k, v in metrics.get("metrics", {}).items() if isinstance(v, float)]
        if metrics
        else ["No test metrics were found beside the exported model."]
    )
    training = info["training"]
    parent = training.get("fine_tuned_from")
    lineage = (
        [
            f"- Fine-tuned from: {parent['path']} (stage {parent.get('stage') or 'none: a .keras file'}, trained on "
            f"{parent.get('dataset') or 'unknown data'}); parent weights sha256 {parent.get('weights_sha256')}; "
            f"frozen while fine-tuning: {parent.get('frozen') or 'none'}"
        ]
        if parent
        else []
    )
    limits = info["limits"]
    return "\n".join(
        [
            f"# {info['model_name']}, version {info['version']}",
            "",
            "A Region Support Network (RSN-TF): metric depth from a single RGB image.",
            "",
            "## Inputs and outputs",
            "",
            "| signature | role | tensor | dtype | shape | units |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Sizes: {info['input_sizes']}. The network runs at {info['network_size'][0]}x{info['network_size'][1]}.",
            f"Depth is in metres; the model was trained on depths in {info['valid_depth_range_m'][0]:g} to "
            f"{info['valid_depth_range_m'][1]:g} m and predicts nothing outside that range reliably.",
            "",
            "## Camera",
            "",
            f"Default intrinsics (fx, fy, cx, cy) = ({info['default_intrinsics']['fx']}, "
            f"{info['default_intrinsics']['fy']}, {info['default_intrinsics']['cx']}, "
            f"{info['default_intrinsics']['cy']}) at 640x480: {info['default_intrinsics']['note']}.",
            "",
            "## Model and training",
            "",
            f"- Preset: {info['model']['preset'] or 'unknown'}; stage: {training.get('stage', 'unknown')}",
            f"- Training data: {training.get('dataset', 'unknown')}; steps: {training.get('steps', 'unknown')}",
            *lineage,
            "",
            "## Test metrics",
            "",
            *metric_lines,
            "",
            "## Limits",
            "",
            f"At most {limits['max_batch']} images per request, sides up to {limits['max_side']} px, "
            f"encoded images up to {limits['max_image_bytes']} bytes; anything else is refused with "
            "InvalidArgument naming the input, and the server keeps serving.",
            "",
            "## Serving it",
            "",
            "```bash",
            info["docker_run"],
            "```",
            "",
            "`models.config` for several models (`--model_config_file`):",
            "",
            "```",
            (info["models_config"] or "").rstrip(),
            "```",
            "",
            f"Health: {info['health']}.",
            "",
        ]
    )


def write_serving_bundle(
    version_dir: str,
    model: RegionSupportNetwork,
    model_name: str,
    version: int,
    limits: ServingLimits,
    provenance: dict | None = None,
) -> dict[str, str]:
    """Write serving_info.json and model_card.md into ``version_dir``; returns their paths."""
    info = serving_info(version_dir, model, model_name, version, limits, provenance)
    paths = {"info": os.path.join(version_dir, SERVING_INFO_FILE), "card": os.path.join(version_dir, MODEL_CARD_FILE)}
    with open(paths["info"], "w") as fh:
        json.dump(info, fh, indent=2)
    with open(paths["card"], "w") as fh:
        fh.write(_model_card(info))
    return paths
