"""What every region-support example holds, shared by the ``nyu_region_support`` and ``rgbd_folder`` builders.

One feature dict and one function that turns (image, depth, semantic map) into an
example, so that all our datasets load through the same input pipeline (``rsn_tf.data``)
and their targets are made the same way: Algorithm 1 on the semantic map S that the
region mode gives (``tfds_nyu.label_free``).

``source`` is ``"<origin>:<region mode>"`` (``v2:labels``, ``h5:slic``,
``rgbd_folder:depth_only``), so that no one mixes targets of different modes by accident.
"""

from __future__ import annotations

import cv2
import numpy as np
import tensorflow_datasets as tfds

from tfds_nyu.label_free import semantic_map
from tfds_nyu.limits import MAX_PLAUSIBLE_DEPTH  # owned by tfds_nyu.limits; still importable from here
from tfds_nyu.region_support import region_support

__all__ = [
    "MAX_PLAUSIBLE_DEPTH",
    "BadFrameError",
    "bad_frame_reason",
    "encode_png",
    "example_features",
    "region_support_example",
    "set_class_names",
    "source_tag",
]


class BadFrameError(ValueError):
    """A frame whose values cannot be right; the message names the file, the field and the frame."""


def bad_frame_reason(image: np.ndarray, depth: np.ndarray) -> str | None:
    """Why a frame read from a dataset file is corrupt, or None. Zero depth means "no reading" and is fine.

    Checked: the image is (H, W, 3) uint8; the depth is (H, W) of the same size, with no NaN,
    no infinity, nothing negative and nothing beyond MAX_PLAUSIBLE_DEPTH metres. (Labels are
    checked against the names table where they are read, rsn_tf's nyu_mat.)
    """
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        return f"field 'images': expected (H, W, 3) uint8, got {image.shape} {image.dtype}"
    if depth.shape != image.shape[:2]:
        return f"field 'depths': shape {depth.shape} does not match the image's {image.shape[:2]}"
    bad = {
        "NaN": np.isnan(depth),
        "infinite": np.isinf(depth),
        "negative": depth < 0,
        f"over {MAX_PLAUSIBLE_DEPTH:g} m": np.isfinite(depth) & (depth > MAX_PLAUSIBLE_DEPTH),
    }
    found = [f"{int(mask.sum())} {what}" for what, mask in bad.items() if mask.any()]
    if found:
        return f"field 'depths': {', '.join(found)} value(s) (0 is the only 'no reading' value)"
    return None


def example_features(
    height: int, width: int, camera: bool = False, labeled: bool = False
) -> tfds.features.FeaturesDict:
    """The features of one example at (height, width); ``camera`` adds the (fx, fy, cx, cy) intrinsics.

    ``labeled``: the label map is a ``tfds.features.LabeledImage``, whose class names the
    builder sets with ``set_class_names`` once it has read them (they come from the files),
    so that plain-tfds users find them at ``info.features["label"].names``. Its examples
    are encoded exactly as an ``Image``'s (a 16-bit PNG).
    """
    label_shape = (height, width, 1)
    label = (
        tfds.features.LabeledImage(labels=None, shape=label_shape, dtype=np.uint16)
        if labeled
        else tfds.features.Image(shape=label_shape, dtype=np.uint16)
    )
    features = {
        "image": tfds.features.Image(shape=(height, width, 3)),
        "depth": tfds.features.Tensor(shape=(height, width), dtype=np.float32, encoding="zlib"),
        "label": label,
        "regions": tfds.features.Tensor(shape=(height, width), dtype=np.int32, encoding="zlib"),
        "region_support": tfds.features.Tensor(shape=(height, width), dtype=np.float32, encoding="zlib"),
        "scene": tfds.features.Text(),
        "source": tfds.features.Text(),
        "key": tfds.features.Text(),
    }
    if camera:
        features["camera"] = tfds.features.Tensor(shape=(4,), dtype=np.float32)
    return tfds.features.FeaturesDict(features)


def set_class_names(features: tfds.features.FeaturesDict, names: list[str]) -> None:
    """Record ``names`` (``names[0]`` is "unlabeled") on the ``label`` feature; saved with the dataset.

    TFDS's LabeledImage has no public setter; its ClassLabel's ``names`` setter is the one
    TFDS documents for names known only at generation time.
    """
    features["label"]._class_label.names = list(names)


def source_tag(origin: str, region_mode: str) -> str:
    return f"{origin}:{region_mode}"


def encode_png(rgb: np.ndarray) -> bytes:
    """Lossless PNG bytes of an RGB image: OpenCV at compression 1 is ~10x faster than TF's default."""
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError(f"image: PNG encoding failed for an array of shape {rgb.shape}")
    return buffer.tobytes()


def region_support_example(
    key: str,
    image: np.ndarray,
    depth: np.ndarray,
    labels: np.ndarray | None,
    region_mode: str,
    origin: str,
    scene: str,
) -> dict:
    """One example: Algorithm 1's targets on the semantic map of ``region_mode``.

    ``depth`` must already have 0 where there is no reading. ``labels`` (or zeros when the
    frame has none) are stored whatever the mode, so label-free targets can be compared with
    labelled ones later.
    """
    semantic, mode = semantic_map(region_mode, image, depth, labels)
    targets = region_support(semantic, depth)
    stored_labels = np.zeros(depth.shape, np.uint16) if labels is None else labels.astype(np.uint16)
    return {
        "image": encode_png(image),
        "depth": depth.astype(np.float32),
        "label": stored_labels[..., None],
        "regions": targets.regions,
        "region_support": targets.region_support,
        "scene": scene,
        "source": source_tag(origin, mode),
        "key": key,
    }
