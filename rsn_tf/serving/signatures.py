"""The serving graph: tensor and encoded-image signatures with input limits.

``serving_default(images)``: uint8 [batch, H, W, 3], any H and W. Inside the graph
the batch is resized to the model resolution, run, and every output is resized
back to H x W.

With ``include_confidence`` (rsn-export --include_confidence), both signatures also return
``confidence`` [batch, H, W] in (0, 1] (rsn_tf/confidence.py; the flip signal costs a second,
mirrored pass).

``predict_image_bytes(image_bytes)``: string [batch] of JPEG or PNG (what TF
Serving's REST API makes of ``{"b64": ...}``). Grayscale and RGBA become RGB.
Returns the same outputs plus ``depth_png_bytes``: 16-bit PNG depth in millimetres,
NYU's convention (TF Serving's REST API base64-encodes outputs whose names end
in ``_bytes``).

Bad input never crashes the server: the graph checks it first and raises
``InvalidArgument`` with a message naming the input. That covers an empty batch,
too many images, a side of 0 or above the limit, an empty string, an encoded image
over ``max_bytes``, bytes that are not a JPEG or PNG, and images of different sizes in one bytes request. The
header's size is checked before decoding, so a huge image is refused without
being decompressed.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from rsn_tf.confidence import DEFAULT_CONFIDENCE_SIGNALS, predict_with_confidence
from rsn_tf.depth_files import MM_PER_METRE

__all__ = ["ServingLimits", "DepthServer", "MM_PER_METRE"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


@dataclasses.dataclass(frozen=True)
class ServingLimits:
    max_side: int = 4096  # the largest height or width accepted
    max_batch: int = 16  # the most images in one request
    max_bytes: int = 20 * 1024 * 1024  # the largest encoded image accepted by predict_image_bytes


class DepthServer:
    """Builds the serving functions around a RegionSupportNetwork."""

    def __init__(
        self,
        model,
        limits: ServingLimits = ServingLimits(),
        include_iterations: bool = False,
        include_confidence: bool = False,
        confidence_signals: str = DEFAULT_CONFIDENCE_SIGNALS,
    ):
        self.model = model
        self.limits = limits
        self.include_iterations = include_iterations
        self.include_confidence = include_confidence
        self.confidence_signals = confidence_signals
        self.size = (model.config.height, model.config.width)
        # The network at its own resolution, one graph function that both signatures call: the export
        # traces the network once instead of once per signature (and per Keras's retracing of each).
        self._forward = tf.function(
            self._network,
            input_signature=[tf.TensorSpec([None, *self.size, 3], tf.float32, name="resized")],
            autograph=False,
        )

    def _network(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        if self.include_confidence:  # a second, mirrored pass (rsn_tf/confidence.py)
            return predict_with_confidence(self.model, x, self.confidence_signals)
        return self.model(x, training=False)

    # ------------------------------------------------------------------ checks
    def _check_batch(self, batch: tf.Tensor, name: str) -> list:
        return [
            tf.debugging.assert_greater(batch, 0, message=f"{name}: the batch is empty; send at least one image"),
            tf.debugging.assert_less_equal(
                batch,
                self.limits.max_batch,
                message=f"{name}: too many images in one request; the limit is {self.limits.max_batch}",
            ),
        ]

    def _check_size(self, height: tf.Tensor, width: tf.Tensor, name: str) -> list:
        side = self.limits.max_side
        return [
            tf.debugging.assert_greater(height, 0, message=f"{name}: zero-sized image (height 0)"),
            tf.debugging.assert_greater(width, 0, message=f"{name}: zero-sized image (width 0)"),
            tf.debugging.assert_less_equal(
                tf.maximum(height, width),
                side,
                message=f"{name}: image side exceeds the limit of {side} px; downscale it first",
            ),
        ]

    # ------------------------------------------------------------------ core
    def predict(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """uint8 [B, H, W, 3] -> depth maps [B, H, W] in metres (checked, resized in and out)."""
        shape = tf.shape(images)
        checks = self._check_batch(shape[0], "images") + self._check_size(shape[1], shape[2], "images")
        with tf.control_dependencies(checks):
            x = tf.image.resize(tf.cast(images, tf.float32), self.size, method="bilinear", antialias=True)
        out = self._forward(x)
        back = lambda t: tf.image.resize(t, shape[1:3], method="bilinear")[..., 0]  # noqa: E731
        result = {"depth": back(out["depth"]), "region_support": back(out["region_support"])}
        if self.include_confidence:
            result["confidence"] = back(out["confidence"])
        if self.include_iterations:
            for i, t in enumerate(out["depth_iterations"], 1):
                result[f"depth_iteration_{i}"] = back(t)
        return result

    def _decode_one(self, data: tf.Tensor) -> tf.Tensor:
        name = "image_bytes"
        length = tf.strings.length(data)
        not_empty = tf.debugging.assert_greater(length, 0, message=f"{name}: empty string; send a JPEG or PNG image")
        not_huge = tf.debugging.assert_less_equal(
            length,
            self.limits.max_bytes,
            message=f"{name}: the encoded image exceeds the limit of {self.limits.max_bytes} bytes",
        )
        with tf.control_dependencies([not_empty, not_huge]):
            is_png = tf.equal(tf.strings.substr(data, 0, 8), _PNG_MAGIC)
            is_jpeg = tf.equal(tf.strings.substr(data, 0, 3), _JPEG_MAGIC)
        known = tf.debugging.Assert(tf.logical_or(is_png, is_jpeg), [f"{name}: the bytes are not a JPEG or PNG image"])
        with tf.control_dependencies([known]):
            header = tf.cond(
                is_png,
                lambda: self._png_shape(data),
                lambda: tf.image.extract_jpeg_shape(data)[:2],
            )
        with tf.control_dependencies(self._check_size(header[0], header[1], name)):
            image = tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False)
        return image

    @staticmethod
    def _png_shape(data: tf.Tensor) -> tf.Tensor:
        """(height, width) from the PNG IHDR chunk, without decoding."""
        long_enough = tf.debugging.assert_greater_equal(
            tf.strings.length(data), 24, message="image_bytes: truncated PNG header"
        )
        with tf.control_dependencies([long_enough]):
            raw = tf.io.decode_raw(tf.strings.substr(data, 16, 8), tf.int32, little_endian=False)
        return tf.stack([raw[1], raw[0]])

    def predict_bytes(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        """string [B] of JPEG/PNG -> the ``predict`` outputs plus 16-bit PNG depth in mm."""
        checks = self._check_batch(tf.shape(image_bytes)[0], "image_bytes")
        with tf.control_dependencies(checks):
            first = self._decode_one(image_bytes[0])

        def decode(data):
            image = self._decode_one(data)
            same = tf.debugging.assert_equal(
                tf.shape(image),
                tf.shape(first),
                message="image_bytes: all images in one request must have the same size; send them separately",
            )
            with tf.control_dependencies([same]):
                return tf.identity(image)

        images = tf.map_fn(decode, image_bytes, fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
        result = self.predict(images)
        millimetres = tf.cast(tf.clip_by_value(tf.round(result["depth"] * MM_PER_METRE), 0, 65535), tf.uint16)
        result["depth_png_bytes"] = tf.map_fn(
            lambda d: tf.io.encode_png(d[..., None]), millimetres, fn_output_signature=tf.string
        )
        return result
