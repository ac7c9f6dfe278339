"""The input pipeline: from the ``nyu_region_support`` TFDS dataset to training batches.

Two stages:

1. **Deterministic** (cacheable): decode, then resize every field to the model
   resolution. The image uses area resampling; depth, labels, regions and region
   support use nearest-neighbour on the same grid, so every kept pixel keeps its
   own depth, semantic label, region id and region-support value (the region
   support stays the mean depth of the pixel's full-resolution region).
2. **Training augmentation** (random, after the cache):
   * scale (off by default; the paper trains without augmentation): zoom in by s in
     [1, scale_max] and crop back to the model size, dividing depth and region
     support by s as Eigen et al. (2014) do. With fixed intrinsics a zoom is a
     longer focal length rather than a closer camera, so this can hurt metric depth;
   * horizontal flip, applied to the image and every target;
   * colour jitter: brightness, contrast, saturation and a per-channel gain (image only).

Batches are dicts: ``image`` float32 (B, H, W, 3) in [0, 255]; ``depth``,
``region_support`` float32 (B, H, W, 1) metres (0 = invalid); ``regions`` and
``label`` int32 (B, H, W, 1); ``key`` string (B,). Under ``tf.distribute`` pass the ``InputContext``
from ``strategy.distribute_datasets_from_function``: each input pipeline then
reads its own shard and batches the per-replica batch size.

What the pipeline does is the experiment's ``rsn_tf.config.DataConfig`` (the one data config);
the size it resizes to is the model's (``RSNConfig.height``/``width``) and its seed the run's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import tensorflow as tf
import tensorflow_datasets as tfds

import tfds_nyu  # registers the builders with TFDS
from rsn_tf.config import DataConfig
from tfds_nyu.limits import MAX_PLAUSIBLE_DEPTH

__all__ = [
    "DatasetNotBuiltError",
    "needs_manual_dir",
    "num_classes",
    "load_builder",
    "prepare_builder",
    "preprocess",
    "augment",
    "make_dataset",
]

AUTOTUNE = tf.data.AUTOTUNE
TARGETS = ("depth", "region_support", "regions", "label")


class DatasetNotBuiltError(FileNotFoundError):
    """The requested TFDS dataset is not prepared in ``data_dir``; the message says how to build it."""


# What --manual_dir holds, per builder config kind (tfds_nyu.builder_common.KINDS), in a build command.
_MANUAL_DIR_HINT = {
    "nyu_mat": "DIR_WITH_THE_NYU_MAT_FILES",
    "nyu_h5": "DIR_WITH_THE_NYU_H5_TREE",
    "rgbd_folder": "YOUR_RGBD_FOLDER",
}


def needs_manual_dir(builder: tfds.core.DatasetBuilder) -> bool:
    """Whether building ``builder`` needs the user's files (--manual_dir), as its config declares."""
    return bool(builder.builder_config.needs_manual_dir)


def num_classes(builder: tfds.core.DatasetBuilder) -> int | None:
    """The dataset's semantic class count (its names table less "unlabeled"), or None when it has none."""
    try:
        return len(tfds_nyu.class_names(builder.info)) - 1
    except ValueError:  # rgbd_folder and h5 datasets name no classes
        return None


def _build_command(builder: tfds.core.DatasetBuilder, data_dir: str | None) -> str:
    where = f" --data_dir={data_dir}" if data_dir else ""
    config = builder.builder_config
    manual = (
        f" --manual_dir={_MANUAL_DIR_HINT.get(config.kind, 'DIR_WITH_YOUR_FILES')}" if needs_manual_dir(builder) else ""
    )
    return f"  rsn-build-dataset --dataset={builder.name}/{builder.builder_config.name}{where}{manual}"


def _takes_own_configs(name: str) -> bool:
    """Whether ``name`` (builder/config) names a builder whose configs users make (rsn-build-dataset):
    such a config exists for TFDS only once it is built."""
    return name.partition("/")[0] == tfds_nyu.RgbdFolderBuilder.name


def _unknown_config(name: str, data_dir: str | None) -> Exception:
    """TFDS knows no config ``name``: an rgbd_folder config of your own exists only once built."""
    family, _, config = name.partition("/")
    known = ", ".join(c.name for c in tfds.builder_cls(family).BUILDER_CONFIGS)
    where = data_dir or "TFDS's default data dir (~/tensorflow_datasets)"
    if _takes_own_configs(name):
        flag = f" --data_dir={data_dir}" if data_dir else ""
        return DatasetNotBuiltError(
            f"The dataset {name} is not built in {where}. An rgbd_folder config of your own ({config!r}) "
            "exists once it is built; build it with:\n"
            f"  rsn-build-dataset --dataset={name}{flag} --manual_dir={_MANUAL_DIR_HINT['rgbd_folder']}\n"
            "(add --holdout_last=N or --holdout_fraction=P for a sequence, --height/--width for another size; "
            f"docs/datasets.md). Built-in configs: {known}."
        )
    return DatasetNotBuiltError(f"--dataset={name}: {family} has no config {config!r}. Choose one of: {known}.")


def _builder(name: str, data_dir: str | None) -> tfds.core.DatasetBuilder:
    """``tfds.builder``, with a config TFDS does not know (yet) as ``DatasetNotBuiltError``."""
    try:
        return tfds.builder(name, data_dir=data_dir)
    except ValueError as error:
        if "BuilderConfig" not in str(error):
            raise
        raise _unknown_config(name, data_dir) from None


def load_builder(name: str, data_dir: str | None = None) -> tfds.core.DatasetBuilder:
    """The prepared builder for ``name`` (e.g. ``nyu_region_support/synthetic``, ``rgbd_folder/slic``)."""
    builder = _builder(name, data_dir)
    if not builder.is_prepared():
        raise DatasetNotBuiltError(
            f"The dataset {name} is not built in {builder.data_dir}. Build it with:\n"
            f"{_build_command(builder, data_dir)}\n"
            "(or give rsn-train / rsn-evaluate --manual_dir and they build it; the synthetic configs "
            "need nothing and are built when missing.)"
        )
    return builder


def _check_same_folder(builder: tfds.core.DatasetBuilder, manual_dir: str | None) -> None:
    """An rgbd_folder dataset built from one folder must not be reused for another by accident."""
    built_from = builder.info.metadata.get("folder") if builder.info.metadata else None
    if builder.name != "rgbd_folder" or not manual_dir or not built_from:
        return
    if os.path.realpath(built_from) != os.path.realpath(manual_dir):
        raise ValueError(
            f"--manual_dir={manual_dir}: {builder.data_dir} was built from another folder ({built_from}); "
            "give a different --data_dir for each RGB-D folder, or delete that one to rebuild it"
        )


def wait_for_builder(
    name: str,
    data_dir: str | None,
    builder_worker: str,
    timeout_s: float,
    poll_s: float = 2.0,
    say: Callable[[str], None] = print,
) -> tfds.core.DatasetBuilder:
    """Wait until another process (``builder_worker``, e.g. the chief) has built ``name`` in ``data_dir``.

    TFDS writes a dataset into an ``incomplete.*`` folder and renames it when done, so a
    dataset that is prepared is complete. A waiting worker says so every 30 s; after
    ``timeout_s`` it stops with what to do (the usual cause: the workers do not share the dir).
    """
    start = time.monotonic()
    last_said = -30.0
    custom = _takes_own_configs(name)  # such a config appears once the builder_worker has built it
    while True:
        try:
            builder = _builder(name, data_dir)
        except DatasetNotBuiltError:
            if not custom:
                raise
            builder = None
        if builder is not None and builder.is_prepared():
            return builder
        waited = time.monotonic() - start
        if waited >= timeout_s:
            if builder is None:
                raise _unknown_config(name, data_dir)
            raise DatasetNotBuiltError(
                f"{name} did not appear in {builder.data_dir} within {timeout_s:.0f} s (--dataset_wait_timeout_s) "
                f"while {builder_worker} was to build it. If the workers do not share that dir (one disk per machine), "
                f"build it on every machine first:\n{_build_command(builder, data_dir)}\nor give every worker a "
                "--data_dir on shared storage; if the build is just slow, raise --dataset_wait_timeout_s."
            )
        if waited - last_said >= 30.0:
            where = builder.data_dir if builder is not None else data_dir
            say(f"Waiting for {builder_worker} to build {name} in {where} ({waited:.0f} s so far) ...")
            last_said = waited
        time.sleep(poll_s)


def prepare_builder(
    name: str,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    *,
    builder_worker: str | None = None,
    wait_timeout_s: float = 6 * 3600.0,
) -> tfds.core.DatasetBuilder:
    """Like ``load_builder``, but builds a missing dataset first where it can.

    A synthetic config needs nothing. Any other config (real NYU, the h5 tree, an RGB-D
    folder) is built from ``manual_dir`` when one is given; without it, a missing dataset
    raises ``DatasetNotBuiltError`` with the build command.

    ``builder_worker``: another process builds it (multi-worker training: the chief); this one
    waits for it (``wait_for_builder``) instead of building the same files at the same time.
    """
    try:
        builder = load_builder(name, data_dir)
    except DatasetNotBuiltError:
        if builder_worker is not None:
            return wait_for_builder(name, data_dir, builder_worker, wait_timeout_s)
        builder = _builder(name, data_dir)  # an unknown rgbd_folder config: the build command, raised
        if needs_manual_dir(builder) and not manual_dir:
            raise
    else:
        _check_same_folder(builder, manual_dir)
        return builder
    what = f"from {manual_dir}" if manual_dir else "(synthetic NYU-format scenes)"
    print(f"Building {name} {what} into {builder.data_dir} ...", flush=True)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    return builder


def check_example(example: dict, num_classes: int | None = None) -> dict:
    """Fail loudly, naming the example, on values no builder of ours writes: NaN, infinite, negative or
    absurd depth or region support, and class ids beyond the dataset's names table.

    A dataset built by an older version, by hand or by another tool reaches training through
    here; its bad frame then stops the run with the key instead of a NaN loss many steps later.
    """
    key = example["key"]
    checks = []
    for field in ("depth", "region_support"):
        value = tf.cast(example[field], tf.float32)
        ok = tf.reduce_all(tf.math.is_finite(value)) & tf.reduce_all(value >= 0.0)
        ok &= tf.reduce_all(value <= MAX_PLAUSIBLE_DEPTH)
        checks.append(
            tf.debugging.Assert(
                ok,
                [
                    "input pipeline: example",
                    key,
                    f"field {field} holds NaN, infinite, negative or >{MAX_PLAUSIBLE_DEPTH:g} m values",
                ],
            )
        )
    if num_classes is not None:
        checks.append(
            tf.debugging.Assert(
                tf.reduce_max(tf.cast(example["label"], tf.int32)) <= num_classes,
                ["input pipeline: example", key, f"field label has a class id beyond the {num_classes} names"],
            )
        )
    with tf.control_dependencies(checks):
        return {k: tf.identity(v) for k, v in example.items()}


def preprocess(example: dict, height: int, width: int) -> dict:
    """Stage 1: decode and resize one TFDS example to (height, width). Deterministic."""
    size = (height, width)
    image = tf.image.resize(tf.cast(example["image"], tf.float32), size, method="area")
    out = {"image": image, "key": example["key"]}
    for key in TARGETS:
        value = example[key]
        if value.shape.rank == 2:
            value = value[..., None]
        out[key] = tf.image.resize(value, size, method="nearest")
    out["regions"] = tf.cast(out["regions"], tf.int32)
    out["label"] = tf.cast(out["label"], tf.int32)
    out["depth"] = tf.cast(out["depth"], tf.float32)
    out["region_support"] = tf.cast(out["region_support"], tf.float32)
    return out


def augment(example: dict, config: DataConfig, seed: tf.Tensor) -> dict:
    """Stage 2: random scale + crop, flip and colour jitter, with one stateless seed per example.
    The output keeps the example's (static) size."""
    seeds = tf.random.experimental.stateless_split(seed, 8)
    h, w = example["image"].shape[0], example["image"].shape[1]
    out = dict(example)
    if config.augment_scale > 1.0:
        s = tf.random.stateless_uniform([], seeds[0], 1.0, config.augment_scale)
        big = (tf.cast(tf.math.ceil(h * s), tf.int32), tf.cast(tf.math.ceil(w * s), tf.int32))
        top = tf.random.stateless_uniform([], seeds[1], 0, big[0] - h + 1, dtype=tf.int32)
        left = tf.random.stateless_uniform([], seeds[2], 0, big[1] - w + 1, dtype=tf.int32)

        def zoom(x, method):
            return tf.image.resize(x, big, method=method)[top : top + h, left : left + w, :]

        out["image"] = zoom(out["image"], "bilinear")
        for key in TARGETS:
            out[key] = zoom(out[key], "nearest")
        out["depth"] = out["depth"] / s
        out["region_support"] = out["region_support"] / s
    if config.augment_flip:
        flip = tf.random.stateless_uniform([], seeds[3]) < 0.5
        for key in ("image", *TARGETS):
            out[key] = tf.cond(flip, lambda k=key: out[k][:, ::-1, :], lambda k=key: out[k])
    if config.color_jitter > 0:
        j = config.color_jitter
        image = out["image"] / 255.0
        image = tf.image.stateless_random_brightness(image, j * 0.5, seeds[4])
        image = tf.image.stateless_random_contrast(image, 1 - j, 1 + j, seeds[5])
        image = tf.image.stateless_random_saturation(image, 1 - j, 1 + j, seeds[6])
        image = image * tf.random.stateless_uniform([1, 1, 3], seeds[7], 1 - j / 2, 1 + j / 2)
        out["image"] = tf.clip_by_value(image, 0.0, 1.0) * 255.0
    for key in ("image", *TARGETS):
        out[key] = tf.ensure_shape(out[key], (h, w, out[key].shape[-1]))
    return out


def make_dataset(
    builder: tfds.core.DatasetBuilder,
    split: str,
    config: DataConfig,
    training: bool,
    size: tuple[int, int],
    seed: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
    repeat: bool | None = None,
    skip_examples: int = 0,
) -> tf.data.Dataset:
    """Batches of ``split`` at ``size`` (height, width). Training data is shuffled, augmented and
    repeated; evaluation is not. ``seed`` fixes the order and the augmentation (None: unseeded).

    ``skip_examples`` (training): start the stream that many examples in, exactly where an
    uninterrupted run would be. The order (seeded shuffle) and each example's augmentation
    (a stateless seed from its position in the stream) depend only on the seed and the
    position, so a resumed run sees the batches the uninterrupted run saw. The skipped
    examples pass through the read, cache and shuffle but are never augmented.
    """
    batch = config.batch_size
    if input_context is not None:
        batch = input_context.get_per_replica_batch_size(config.batch_size)
        if input_context.num_input_pipelines > 1:
            # Shard by example, not by file: a small split may have fewer files than pipelines.
            split = tfds.even_splits(split, input_context.num_input_pipelines)[input_context.input_pipeline_id]
    read_config = tfds.ReadConfig(shuffle_seed=seed, try_autocache=False)
    ds = builder.as_dataset(split=split, shuffle_files=training, read_config=read_config)
    classes = num_classes(builder)
    height, width = size
    ds = ds.map(lambda ex: preprocess(check_example(ex, classes), height, width), num_parallel_calls=AUTOTUNE)
    if config.cache == "memory":
        ds = ds.cache()
    elif config.cache:
        ds = ds.cache(config.cache)
    if repeat if repeat is not None else training:
        ds = ds.repeat()
    if training:
        ds = ds.shuffle(config.shuffle_buffer, seed=seed)
        if skip_examples:
            ds = ds.skip(skip_examples)
        augment_seed = seed if seed is not None else 0
        counter = tf.data.Dataset.counter(start=skip_examples)
        ds = tf.data.Dataset.zip((ds, counter)).map(
            lambda ex, i: augment(ex, config, tf.stack([tf.cast(augment_seed, tf.int64), i])),
            num_parallel_calls=AUTOTUNE,
        )
    ds = ds.batch(batch, drop_remainder=training)
    options = tf.data.Options()
    options.deterministic = not training or seed is not None
    return ds.with_options(options).prefetch(AUTOTUNE)
