"""Region support without labels: the semantic map S that Algorithm 1 splits, made from RGB or depth.

Algorithm 1 needs a semantic map S; most RGB-D data (the NYU h5 tree, phone LiDAR,
RealSense and Kinect folders) has none. A *region mode* names where S comes from:

  labels        the dataset's semantic labels (the paper)
  slic          SLIC superpixels of the RGB image (scikit-image), one class per superpixel
  felzenszwalb  Felzenszwalb-Huttenlocher graph segments of the RGB image (scikit-image)
  depth_only    one class for the whole frame: step 1 then splits only by connectivity of
                valid depth, and step 2 cuts by depth bins

Algorithm 1 itself runs unchanged on whichever S the mode gives, so every invariant of
``region_support`` holds. Each label-free mode is a documented deviation
(``tfds_nyu.region_support.DEVIATIONS``); the figures that chose the default
(``DEFAULT_LABEL_FREE_MODE``) are in BENCHMARKS.md ("Region support without labels").

Segment counts do not depend on the image size: SLIC asks for a fixed count, and
Felzenszwalb's scale and minimum size are scaled with the image area.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DEFAULT_LABEL_FREE_MODE",
    "LABEL_FREE_MODES",
    "REGION_MODES",
    "check_region_mode",
    "label_free_semantic_map",
    "semantic_map",
]

LABEL_FREE_MODES = ("slic", "felzenszwalb", "depth_only")
REGION_MODES = ("labels", *LABEL_FREE_MODES)
# Chosen from the measurements in BENCHMARKS.md ("Region support without labels"): Felzenszwalb
# agrees with the labelled region support as well as SLIC on the labelled real NYU frame (RMSE
# 0.137 vs 0.135 m) and clearly better on synthetic rooms (0.161 vs 0.211 m), with R fitting the
# depth as closely; it costs about 1.3-2.5x SLIC's time per frame.
DEFAULT_LABEL_FREE_MODE = "felzenszwalb"

# SLIC: superpixels per frame (a count, so the same at any image size), and the colour/space
# trade-off (scikit-image's default 10 for Lab images). 64 gives pieces of about 70x70 px at 480x640.
SLIC_SEGMENTS = 64
SLIC_COMPACTNESS = 10.0
# Felzenszwalb: scale (larger = bigger segments) and minimum segment size, for a 480x640 frame.
FELZENSZWALB_SCALE_VGA = 400.0
FELZENSZWALB_MIN_SIZE_VGA = 1500
_VGA_PIXELS = 480 * 640


def check_region_mode(mode: str) -> None:
    """Raise ``ValueError`` naming ``region_mode`` unless ``mode`` is one of ``REGION_MODES``."""
    if mode not in REGION_MODES:
        raise ValueError(f"region_mode: expected one of {', '.join(REGION_MODES)}, got {mode!r}")


def _check_image(image: np.ndarray, depth: np.ndarray, mode: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"region mode '{mode}': image must be (H, W, 3) RGB, got shape {image.shape}")
    if image.shape[:2] != np.shape(depth):
        raise ValueError(f"region mode '{mode}': image {image.shape[:2]} and depth {np.shape(depth)} differ in size")
    return image


def label_free_semantic_map(mode: str, image: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """The semantic map S (int32, H x W, classes 1..K) that ``mode`` makes for one RGB-D frame."""
    depth = np.asarray(depth)
    if mode == "depth_only":
        return np.ones(depth.shape, np.int32)
    image = _check_image(image, depth, mode)
    area = image.shape[0] * image.shape[1] / _VGA_PIXELS
    # Imported here: scikit-image takes ~1 s to import and only builds that use these modes need it.
    from skimage import segmentation

    if mode == "slic":
        segments = segmentation.slic(
            image,
            n_segments=SLIC_SEGMENTS,
            compactness=SLIC_COMPACTNESS,
            sigma=1.0,
            start_label=1,
            channel_axis=-1,
        )
        return segments.astype(np.int32)
    if mode == "felzenszwalb":
        segments = segmentation.felzenszwalb(
            image,
            scale=FELZENSZWALB_SCALE_VGA * np.sqrt(area),
            sigma=0.8,
            min_size=max(4, int(FELZENSZWALB_MIN_SIZE_VGA * area)),
        )
        return (segments + 1).astype(np.int32)
    raise ValueError(f"unknown label-free region mode '{mode}'; expected one of {', '.join(LABEL_FREE_MODES)}")


def semantic_map(
    mode: str, image: np.ndarray, depth: np.ndarray, labels: np.ndarray | None = None
) -> tuple[np.ndarray, str]:
    """S for Algorithm 1, and the mode that made it.

    ``mode='labels'`` needs ``labels``. A label-free mode ignores labels even when they
    are given, so that one dataset never mixes the two by accident.
    """
    if mode == "labels":
        if labels is None:
            raise ValueError("region mode 'labels': this frame has no semantic labels; use a label-free mode")
        return np.asarray(labels), "labels"
    return label_free_semantic_map(mode, image, depth), mode
