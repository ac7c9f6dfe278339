"""Loading a trained model from its files: a run dir or stage dir, a ``.keras`` file, a ``.tflite``.

Below everything that uses a trained model: rsn_tf.depth_sources (through which evaluation,
prediction and the web demo get theirs) and rsn_tf.serving (export), so none of them reaches
up into another to load one.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from rsn_tf.errors import UserError
from rsn_tf.models import RegionSupportNetwork
from rsn_tf.run_dir import RunDir, RunDirError

__all__ = ["ModelLoadError", "load_keras_file", "load_model", "predict_at_size", "LiteRTModel"]


class ModelLoadError(UserError, ValueError):
    """A model path that holds no usable model; the message names the path or flag."""


def load_keras_file(path: str) -> RegionSupportNetwork:
    """A RegionSupportNetwork saved as ``.keras``; ModelLoadError names the file when it is not one."""
    if not tf.io.gfile.exists(path):
        raise ModelLoadError(f"--keras_model={path}: file not found")
    model = keras.models.load_model(path)
    if not isinstance(model, RegionSupportNetwork):
        raise ModelLoadError(f"--keras_model={path}: holds a {type(model).__name__}, not a RegionSupportNetwork")
    model.teacher_forcing = False
    return model


def load_model(
    model_dir: str | None = None, keras_file: str | None = None, stage: str | None = None
) -> RegionSupportNetwork:
    """A servable RegionSupportNetwork from a ``.keras`` file or from a run dir (rsn-train --model_dir).

    From a run dir: the stage ``stage``, or the most finished stage that runs on images alone
    (rsn_tf.run_dir decides both from the stages' manifests).
    """
    if bool(model_dir) == bool(keras_file):
        raise ModelLoadError("give exactly one of --model_dir (a training run) or --keras_model (a .keras file)")
    if keras_file:
        return load_keras_file(keras_file)
    try:
        model, _ = RunDir(model_dir).select_stage(stage, serves_images=True).load_model()
    except RunDirError as error:
        raise ModelLoadError(str(error)) from error
    return model


def predict_at_size(run: Callable[[np.ndarray], np.ndarray], size: tuple[int, int], rgb: np.ndarray) -> np.ndarray:
    """``run(uint8 (h, w, 3)) -> (h, w)`` of a fixed-size model, on a photo of any size: the photo
    resized to ``size`` (OpenCV, area), the depth back to the photo's size (bilinear)."""
    import cv2

    rgb = np.asarray(rgb)
    height, width = rgb.shape[:2]
    if (height, width) == tuple(size):
        return run(rgb.astype(np.uint8))
    depth = run(cv2.resize(rgb, size[::-1], interpolation=cv2.INTER_AREA).astype(np.uint8))
    return cv2.resize(depth, (width, height), interpolation=cv2.INTER_LINEAR)


class LiteRTModel:
    """A .tflite depth model in LiteRT's interpreter: ``predict(rgb uint8 (H, W, 3)) -> depth (H, W) metres``.

    A photo of another size is resized to the model's input (bilinear, OpenCV) and the depth back.
    """

    def __init__(self, path: str, num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such .tflite file")
        self.path = path
        self.interpreter = Interpreter(model_path=path, num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self.size = tuple(int(v) for v in self._input["shape"][1:3])

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        return predict_at_size(self._run, self.size, rgb)

    def _run(self, rgb: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self._input["index"], rgb[None])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._output["index"])[0]
