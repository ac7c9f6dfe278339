"""Baseline2, the rows scored from the data alone: Algorithm 1's region support taken as a depth map."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rsn_tf.metrics import MetricConfig, compute_depth_metrics

__all__ = ["ground_truth_region_support_metrics", "printed_region_support_metrics"]


def _keys(values: object) -> list[str]:
    return [k.decode() if isinstance(k, bytes) else str(k) for k in np.asarray(values).reshape(-1)]


def ground_truth_region_support_metrics(
    batches: Iterable[dict], metric_config: MetricConfig = MetricConfig()
) -> tuple[dict, list[str]]:
    """Baseline2: Algorithm 1's region support itself scored as a depth map. Needs no model.

    Returns the metrics and the scored examples' keys (the report's protocol fingerprint)."""
    preds, gts, keys = [], [], []
    for batch in batches:
        preds.append(np.asarray(batch["region_support"])[..., 0])
        gts.append(np.asarray(batch["depth"])[..., 0])
        keys += _keys(batch["key"])
    # Pixels outside every region have region support 0; the metrics clamp them to min_depth,
    # as they would any prediction of 0, so they count as (large) errors, not as skipped pixels.
    return compute_depth_metrics(np.concatenate(preds), np.concatenate(gts), metric_config), keys


def printed_region_support_metrics(
    examples: Iterable[dict], size: tuple[int, int], metric_config: MetricConfig = MetricConfig()
) -> tuple[dict, list[str]]:
    """Baseline2 with the printed Algorithm 1: its region support, made at full resolution from each
    test example's labels and depth, resized (nearest, as the input pipeline resizes every target)
    and scored as a depth map against the depth resized the same way."""
    import tensorflow as tf

    from tfds_nyu.region_support import printed_region_support

    preds, gts, keys = [], [], []
    for example in examples:
        keys += _keys(example["key"])
        depth = np.asarray(example["depth"], np.float32)
        depth = depth[..., 0] if depth.ndim == 3 else depth
        labels = np.asarray(example["label"])
        labels = labels[..., 0] if labels.ndim == 3 else labels
        r = printed_region_support(labels, depth).region_support
        both = tf.image.resize(np.stack([r, depth], -1), size, method="nearest").numpy()
        preds.append(both[..., 0])
        gts.append(both[..., 1])
    return compute_depth_metrics(np.stack(preds), np.stack(gts), metric_config), keys
