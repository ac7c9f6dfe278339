"""ONNX export, for runtimes outside the TensorFlow family (ONNX Runtime, TensorRT, OpenVINO, CoreML tools).

The same fixed-size graph as the LiteRT models (rsn_tf/serving/litert.py: uint8 image
``[1, H, W, 3]`` -> ``depth`` ``[1, H, W]`` metres) converted by tf2onnx, the converter the
ONNX project maintains for TensorFlow (1.17 converts TF 2.21 graphs of Keras 3 models; checked
against ONNX Runtime by the tests), at opset 17. Written to
``<export_base>/<model_name>_onnx/<version>/<model_name>_<H>x<W>.onnx``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from rsn_tf.model_loading import predict_at_size
from rsn_tf.serving.litert import fixed_size_function

if TYPE_CHECKING:
    from rsn_tf.models import RegionSupportNetwork

__all__ = ["ONNX_OPSET", "export_onnx", "OnnxModel"]

ONNX_OPSET = 17


def export_onnx(
    model: RegionSupportNetwork,
    export_base: str,
    model_name: str = "rsn",
    version: int = 1,
    size: tuple[int, int] | None = None,
) -> str:
    """Write the ONNX model (atomically: a temporary name, then a rename); returns its path."""
    try:
        import tf2onnx
    except ImportError as error:
        from rsn_tf.errors import UserError

        raise UserError("--format=onnx needs tf2onnx and onnxruntime: pip install 'rsn-tf[onnx]'") from error

    height, width = size or (model.config.height, model.config.width)
    proto, _ = tf2onnx.convert.from_function(
        fixed_size_function(model, size),
        input_signature=[tf.TensorSpec([1, height, width, 3], tf.uint8, name="image")],
        opset=ONNX_OPSET,
    )
    out_dir = os.path.join(export_base, f"{model_name}_onnx", str(version))
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{model_name}_{height}x{width}.onnx")
    with open(path + ".partial", "wb") as fh:
        fh.write(proto.SerializeToString())
    os.replace(path + ".partial", path)
    return path


class OnnxModel:
    """An exported .onnx in ONNX Runtime (CPU): ``predict(rgb uint8 (H, W, 3)) -> depth (H, W)`` metres.

    A photo of another size is resized to the model's input and the depth back.
    """

    def __init__(self, path: str, threads: int = 2):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0]
        self.size = tuple(int(v) for v in self._input.shape[1:3])

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        return predict_at_size(self._run, self.size, rgb)

    def _run(self, rgb: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self._input.name: rgb[None]})[0][0]
