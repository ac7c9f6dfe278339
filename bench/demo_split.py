"""Shared by the trust benches: the README demo's trained model and its synthetic test split, in memory.

Not a benchmark itself. ``load`` returns the model (a Keras RegionSupportNetwork from a
rsn-train --model_dir) and the test split at the model's resolution: RGB (N, H, W, 3),
ground-truth depth (N, H, W) and the example keys.
"""

from __future__ import annotations

import numpy as np


def load(model_dir: str, split: str = "test", max_images: int | None = None):
    from rsn_tf.config import DataConfig
    from rsn_tf.data import make_dataset, prepare_builder
    from rsn_tf.run_dir import RunDir

    stage = RunDir(model_dir).select_stage(None, serves_images=True)
    model, manifest = stage.load_model()
    height, width = model.config.height, model.config.width
    builder = prepare_builder("nyu_region_support/synthetic")
    config = DataConfig(batch_size=8, cache="")
    dataset = make_dataset(builder, split, config, training=False, size=(height, width)).unbatch()
    if max_images:
        dataset = dataset.take(max_images)
    rgb, depth, keys = [], [], []
    for example in dataset.as_numpy_iterator():
        rgb.append(example["image"])
        depth.append(example["depth"][..., 0])
        keys.append(example["key"].decode())
    return model, stage.name, np.stack(rgb), np.stack(depth), keys
