"""On-device models: LiteRT (TFLite) flatbuffers in float32, float16 and dynamic-range int8.

Layout, beside the TF Serving versions: ``<export_base>/<model_name>_litert/<version>/``
holding ``<model_name>_<H>x<W>_<variant>.tflite`` for each variant and ``litert_info.json``
(input and output tensors, units, variants, sizes).

Each model takes one uint8 RGB image ``[1, H, W, 3]`` (input ``image``) and returns
``depth`` ``[1, H, W]`` float32 metres. LiteRT wants fixed shapes, so the size is fixed at
export: by default the network's own resolution (no resize inside, so the maths is the
SavedModel's exactly); ``size=(H, W)`` exports another, with a bilinear resize in and out in
the graph. The only difference from the SavedModel then is that the downscale is not
antialiased (TF's antialiased resize is not a LiteRT builtin op). Other sizes: resize the
photo to the exported size first (``rsn_tf.model_loading.LiteRTModel.predict`` does), or export again.

Variants: ``float32`` (bit-for-bit the same ops), ``float16`` (weights stored in half
precision, computed in float32), ``int8`` (dynamic-range quantisation: int8 weights,
activations quantised on the fly; no calibration data needed). The interpreter is LiteRT's
own (``ai_edge_litert``), the runtime devices use.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import tensorflow as tf

if TYPE_CHECKING:
    from rsn_tf.models import RegionSupportNetwork

__all__ = [
    "LITERT_VARIANTS",
    "fixed_size_function",
    "convert_litert",
    "export_litert",
]

LITERT_VARIANTS = ("float32", "float16", "int8")
INFO_FILE = "litert_info.json"


def fixed_size_function(
    model: RegionSupportNetwork, size: tuple[int, int] | None = None
) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """The on-device graph: uint8 image [1, H, W, 3] -> {"depth": [1, H, W]} at ``size`` (default: the model's).

    A ``tf.function`` with its input signature; LiteRT converts its concrete function, tf2onnx
    the function itself (rsn_tf/serving/onnx_export.py).
    """
    net = (model.config.height, model.config.width)
    height, width = size or net

    @tf.function(input_signature=[tf.TensorSpec([1, height, width, 3], tf.uint8, name="image")])
    def serve(image):
        x = tf.cast(image, tf.float32)
        if (height, width) != net:
            x = tf.image.resize(x, net, method="bilinear")
        depth = model(x, training=False)["depth"]
        if (height, width) != net:
            depth = tf.image.resize(depth, (height, width), method="bilinear")
        return {"depth": depth[..., 0]}

    return serve


def convert_litert(model: RegionSupportNetwork, variant: str = "float32", size: tuple[int, int] | None = None) -> bytes:
    """One LiteRT flatbuffer of the model; only LiteRT builtin ops (no Flex/Select TF ops)."""
    if variant not in LITERT_VARIANTS:
        raise ValueError(f"variant={variant!r}: expected one of {', '.join(LITERT_VARIANTS)}")
    graph = fixed_size_function(model, size).get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([graph], model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant in ("float16", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def export_litert(
    model: RegionSupportNetwork,
    export_base: str,
    model_name: str = "rsn",
    version: int = 1,
    variants: tuple[str, ...] = LITERT_VARIANTS,
    size: tuple[int, int] | None = None,
) -> dict[str, str]:
    """Write every variant and litert_info.json atomically (temporary dir, then rename); returns the paths."""
    height, width = size or (model.config.height, model.config.width)
    final = os.path.join(export_base, f"{model_name}_litert", str(version))
    tmp = os.path.join(export_base, f"{model_name}_litert", f".tmp-{version}-{uuid.uuid4().hex[:8]}")
    os.makedirs(tmp)
    paths = {}
    try:
        files = {}
        for variant in variants:
            name = f"{model_name}_{height}x{width}_{variant}.tflite"
            with open(os.path.join(tmp, name), "wb") as fh:
                fh.write(convert_litert(model, variant, size))
            files[variant] = name
        info = {
            "format": "litert",
            "input": {"name": "image", "dtype": "uint8", "shape": [1, height, width, 3], "channels": "RGB 0-255"},
            "output": {"name": "depth", "dtype": "float32", "shape": [1, height, width], "units": "metres"},
            "network_size": [model.config.height, model.config.width],
            "resize_inside": (height, width) != (model.config.height, model.config.width),
            "variants": files,
        }
        with open(os.path.join(tmp, INFO_FILE), "w") as fh:
            json.dump(info, fh, indent=2)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(tmp, final)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    for variant, name in files.items():
        paths[variant] = os.path.join(final, name)
    paths["info"] = os.path.join(final, INFO_FILE)
    return paths
