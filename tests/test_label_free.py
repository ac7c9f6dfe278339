"""Region support without labels: the semantic maps of each label-free mode, checked by hand and on real frames."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from tfds_nyu import label_free
from tfds_nyu.region_support import region_support

REAL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "real_rgbd")


def two_colour_frame(h=96, w=128):
    """Left half red at 2 m, right half blue at 4 m."""
    image = np.zeros((h, w, 3), np.uint8)
    image[:, : w // 2] = (200, 30, 30)
    image[:, w // 2 :] = (20, 40, 210)
    depth = np.where(np.arange(w)[None, :] < w // 2, 2.0, 4.0).astype(np.float32) * np.ones((h, 1), np.float32)
    return image, depth


@pytest.mark.parametrize("mode", ["slic", "felzenszwalb"])
def test_superpixel_boundaries_follow_a_colour_edge(mode):
    image, depth = two_colour_frame()
    semantic = label_free.label_free_semantic_map(mode, image, depth)
    assert semantic.shape == depth.shape and semantic.dtype == np.int32 and semantic.min() >= 1
    mid = depth.shape[1] // 2
    # Boundary recall with the usual 1-px tolerance (SLIC's Gaussian pre-smoothing can move an
    # edge by a pixel): rows where a segment boundary lies within 1 px of the colour edge.
    near = [semantic[:, c - 1] != semantic[:, c] for c in (mid - 1, mid, mid + 1)]
    recall = np.mean(np.any(near, axis=0))
    assert recall == 1.0, recall
    # And far from the edge no segment mixes the halves.
    for segment in np.unique(semantic[:, : mid - 8]):
        assert not (semantic[:, mid + 8 :] == segment).any(), f"segment {segment} spans both halves"


def test_felzenszwalb_finds_exactly_the_two_halves():
    # At full size: the blurred 1-px seams are below the minimum segment size (1500 px) and merge away.
    image, depth = two_colour_frame(480, 640)
    semantic = label_free.label_free_semantic_map("felzenszwalb", image, depth)
    assert len(np.unique(semantic)) == 2


def test_depth_only_is_one_class_so_regions_are_connected_depth_bins():
    image, depth = two_colour_frame()
    depth[:, 60:68] = 0  # a hole column splits the frame into two connected parts
    semantic = label_free.label_free_semantic_map("depth_only", image, depth)
    assert np.unique(semantic).tolist() == [1]
    targets = region_support(semantic, depth)
    # var = (4 - 2) / 10: each half is one flat region with its own mean; the hole has none.
    assert targets.num_regions == 2
    assert np.allclose(targets.region_support[:, :60], 2.0) and np.allclose(targets.region_support[:, 68:], 4.0)
    assert (targets.regions[:, 60:68] == 0).all()


def test_labels_mode_needs_labels_and_label_free_modes_ignore_them():
    image, depth = two_colour_frame()
    labels = np.ones(depth.shape, np.uint16)
    with pytest.raises(ValueError, match="no semantic labels"):
        label_free.semantic_map("labels", image, depth, None)
    s, mode = label_free.semantic_map("labels", image, depth, labels)
    assert mode == "labels" and s is not None and (s == 1).all()
    s, mode = label_free.semantic_map("slic", image, depth, labels)
    assert mode == "slic" and len(np.unique(s)) > 2  # the labels (one class) were not used


def test_bad_inputs_are_named():
    image, depth = two_colour_frame()
    with pytest.raises(ValueError, match=r"unknown label-free region mode 'watershed'"):
        label_free.label_free_semantic_map("watershed", image, depth)
    with pytest.raises(ValueError, match=r"image .* and depth .* differ in size"):
        label_free.label_free_semantic_map("slic", image[:50], depth)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) RGB"):
        label_free.label_free_semantic_map("slic", image[..., 0], depth)


def _real_frame(stem):
    rgb = os.path.join(REAL, "rgb", f"{stem}.png")
    if not os.path.exists(rgb):
        pytest.skip(f"the shared real RGB-D frames are absent ({rgb})")
    image = cv2.imread(rgb)[..., ::-1]
    depth = cv2.imread(os.path.join(REAL, "depth", f"{stem}.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000
    return np.ascontiguousarray(image), depth


@pytest.mark.parametrize("mode", label_free.LABEL_FREE_MODES)
@pytest.mark.parametrize("stem", ["nyu_test_0551", "tum", "sun"])
def test_algorithm_1_invariants_hold_on_real_frames_for_every_mode(mode, stem):
    image, depth = _real_frame(stem)
    semantic = label_free.label_free_semantic_map(mode, image, depth)
    targets = region_support(semantic, depth)
    valid = depth > 0
    assert (targets.regions[valid] > 0).all() and (targets.regions[~valid] == 0).all()
    assert (targets.region_support[valid] > 0).all()
    # Each region: R is its mean depth, and its depth range stays below 2 * var.
    ids = targets.regions[valid]
    d = depth[valid]
    r = targets.region_support[valid]
    sums = np.bincount(ids, weights=d)
    counts = np.bincount(ids)
    present = counts > 0
    assert np.allclose(r, (sums[present] / counts[present])[np.searchsorted(np.flatnonzero(present), ids)], atol=1e-4)
    order = np.argsort(ids, kind="stable")
    bounds = np.flatnonzero(np.diff(ids[order])) + 1
    ranges = [seg.max() - seg.min() for seg in np.split(d[order], bounds)]
    assert max(ranges) < 2 * targets.var + 1e-6
