"""The input pipeline: resizing, augmentation that keeps targets consistent, sharding, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import SHARED_DATASET

from rsn_tf.config import DataConfig
from rsn_tf.data import DatasetNotBuiltError, augment, load_builder, make_dataset, preprocess


@pytest.fixture(scope="module")
def built(mini_data_dir):
    """The suite's shared small dataset (read only)."""
    return load_builder(SHARED_DATASET, data_dir=mini_data_dir)


def example(h=12, w=16):
    rng = np.random.default_rng(0)
    return {
        "image": tf.constant(rng.uniform(0, 255, (h, w, 3)).astype(np.float32)),
        "depth": tf.constant(np.full((h, w, 1), 4.0, np.float32)),
        "region_support": tf.constant(np.full((h, w, 1), 4.0, np.float32)),
        "regions": tf.constant(np.arange(h * w, dtype=np.int32).reshape(h, w, 1)),
        "label": tf.constant((np.arange(h * w, dtype=np.int32) % 7).reshape(h, w, 1)),
        "key": tf.constant("k"),
    }


def test_preprocess_resizes_targets_with_nearest_neighbour(built):
    raw = next(iter(built.as_dataset(split="train")))
    out = preprocess(raw, 48, 64)
    assert out["image"].shape == (48, 64, 3) and out["depth"].shape == (48, 64, 1)
    assert out["regions"].dtype == tf.int32 and out["label"].dtype == tf.int32
    # Nearest-neighbour: every value after resizing existed before (no blending across regions).
    assert set(np.unique(out["regions"])) <= set(np.unique(raw["regions"]))
    assert set(np.unique(out["region_support"])) <= set(np.unique(raw["region_support"]))
    assert set(np.unique(out["depth"])) <= set(np.unique(raw["depth"]))
    # Each pixel's region support is the one of its region (same grid for both).
    r, rs = out["regions"].numpy().ravel(), out["region_support"].numpy().ravel()
    for region in np.unique(r)[:20]:
        assert np.unique(rs[r == region]).size == 1


def test_flip_is_applied_to_the_image_and_every_target():
    x = example()
    config = DataConfig(augment_scale=1.0, color_jitter=0.0, augment_flip=True)
    flipped_any = kept_any = False
    for i in range(8):
        out = augment(x, config, tf.constant([1, i], tf.int64))
        is_flipped = [np.array_equal(out[k], x[k].numpy()[:, ::-1]) for k in ("image", "depth", "regions", "label")]
        is_same = [np.array_equal(out[k], x[k]) for k in ("image", "regions", "label")]
        assert all(is_flipped) or (all(is_same) and not is_flipped[0])
        flipped_any |= all(is_flipped)
        kept_any |= all(is_same)
    assert flipped_any and kept_any


def test_scale_divides_depth_and_region_support_by_the_zoom():
    x = example()
    config = DataConfig(augment_scale=1.5, color_jitter=0.0, augment_flip=False)
    zooms = set()
    for i in range(6):
        out = augment(x, config, tf.constant([2, i], tf.int64))
        depth = out["depth"].numpy()
        assert np.unique(depth).size == 1 and 4.0 / 1.5 - 1e-5 <= depth[0, 0, 0] <= 4.0
        np.testing.assert_array_equal(depth, out["region_support"].numpy())
        zooms.add(round(4.0 / float(depth[0, 0, 0]), 4))
        # Zooming shows fewer, larger regions: ids are a subset, each covering >= 1 pixel.
        assert set(np.unique(out["regions"])) <= set(range(12 * 16))
    assert len(zooms) > 1


def test_color_jitter_changes_only_the_image():
    x = example()
    config = DataConfig(augment_scale=1.0, augment_flip=False, color_jitter=0.3)
    out = augment(x, config, tf.constant([3, 0], tf.int64))
    assert not np.allclose(out["image"], x["image"])
    assert 0.0 <= float(tf.reduce_min(out["image"])) and float(tf.reduce_max(out["image"])) <= 255.0
    for k in ("depth", "region_support", "regions", "label"):
        np.testing.assert_array_equal(out[k], x[k])


def test_evaluation_is_deterministic_and_complete(built):
    config = DataConfig(batch_size=4)
    first = [b["key"].numpy().tolist() for b in make_dataset(built, "test", config, training=False, size=(24, 32))]
    second = [b["key"].numpy().tolist() for b in make_dataset(built, "test", config, training=False, size=(24, 32))]
    assert first == second
    assert sum(len(b) for b in first) == built.info.splits["test"].num_examples


def test_training_batches_have_the_documented_shapes(built):
    config = DataConfig(batch_size=4)
    batch = next(iter(make_dataset(built, "train", config, training=True, size=(24, 32), seed=1)))
    assert batch["image"].shape == (4, 24, 32, 3) and batch["image"].dtype == tf.float32
    for k in ("depth", "region_support"):
        assert batch[k].shape == (4, 24, 32, 1) and batch[k].dtype == tf.float32
    for k in ("regions", "label"):
        assert batch[k].shape == (4, 24, 32, 1) and batch[k].dtype == tf.int32


def test_input_pipelines_read_disjoint_shards(built):
    config = DataConfig(batch_size=4, cache="")
    keys = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline, num_replicas_in_sync=2)
        ds = make_dataset(built, "train", config, training=False, size=(24, 32), input_context=context)
        batches = list(ds)
        assert max(len(b["key"]) for b in batches) == 2  # per-replica batch = 4 / 2
        keys.append({k for b in batches for k in b["key"].numpy().tolist()})
    assert not keys[0] & keys[1]
    assert len(keys[0] | keys[1]) == built.info.splits["train"].num_examples


def test_missing_dataset_says_how_to_build_it(tmp_path):
    with pytest.raises(DatasetNotBuiltError, match=r"rsn-build-dataset --dataset=nyu_region_support/synthetic"):
        load_builder("nyu_region_support/synthetic", data_dir=str(tmp_path))


def test_the_input_pipeline_names_a_corrupt_example_and_the_trainer_says_what_to_do():
    import tensorflow as tf

    from rsn_tf.data import check_example
    from rsn_tf.training.trainer import _bad_example_message

    def example(depth_value=2.0, label=3):
        depth = np.full((6, 8), 2.0, np.float32)
        depth[1, 1] = depth_value
        return {
            "key": tf.constant("v2_00007"),
            "depth": tf.constant(depth),
            "region_support": tf.constant(np.full((6, 8), 2.0, np.float32)),
            "label": tf.constant(np.full((6, 8, 1), label, np.uint16)),
        }

    def run(ex, classes=5):
        ds = tf.data.Dataset.from_tensors(ex).map(lambda e: check_example(e, classes))
        return next(iter(ds))

    assert float(run(example())["depth"][0, 0]) == 2.0  # a clean example passes unchanged
    assert float(run(example(0.0))["depth"][1, 1]) == 0.0  # 0 = no reading is fine
    for value in (np.nan, np.inf, -1.0, 250.0):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"v2_00007.*field depth holds NaN") as caught:
            run(example(value))
    message = _bad_example_message(caught.value, "nyu_region_support/merged", 12)
    assert message.startswith("bad data in nyu_region_support/merged at step 12: example v2_00007: field depth holds")
    assert "rsn-build-dataset" in message
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"v2_00007.*class id beyond the 5 names"):
        run(example(label=6))
    assert int(run(example(label=5))["label"].numpy().max()) == 5


def test_an_unbuilt_rgbd_folder_config_of_ones_own_gets_its_build_command_and_a_typo_the_configs(tmp_path):
    from rsn_tf.data import prepare_builder

    for load in (load_builder, prepare_builder):
        with pytest.raises(DatasetNotBuiltError) as error:
            load("rgbd_folder/kitchen", data_dir=str(tmp_path))
        message = str(error.value)
        assert f"The dataset rgbd_folder/kitchen is not built in {tmp_path}" in message
        assert (
            f"rsn-build-dataset --dataset=rgbd_folder/kitchen --data_dir={tmp_path} --manual_dir=YOUR_RGBD_FOLDER"
            in message
        )
        assert "--holdout_last=N" in message and "BuilderConfig" not in message
    with pytest.raises(
        DatasetNotBuiltError, match=r"nyu_region_support has no config 'synthtic'\. Choose one of: .*synthetic_mini"
    ):
        load_builder("nyu_region_support/synthtic", data_dir=str(tmp_path))


@pytest.mark.parametrize(
    "name, manual",
    [
        ("nyu_region_support/synthetic_mini", None),  # rendered here: nothing to give
        ("nyu_region_support/v2", "--manual_dir=DIR_WITH_THE_NYU_MAT_FILES"),
        ("nyu_h5_tree/slic", "--manual_dir=DIR_WITH_THE_NYU_H5_TREE"),
        ("rgbd_folder/slic", "--manual_dir=YOUR_RGBD_FOLDER"),
    ],
)
def test_the_build_command_asks_for_a_manual_dir_as_the_builder_config_declares(tmp_path, name, manual):
    from rsn_tf.data import needs_manual_dir, prepare_builder

    with pytest.raises(DatasetNotBuiltError) as error:
        load_builder(name, data_dir=str(tmp_path))
    command = next(line for line in str(error.value).splitlines() if "rsn-build-dataset" in line)
    assert command.split()[:2] == ["rsn-build-dataset", f"--dataset={name}"]
    if manual is None:
        assert "--manual_dir" not in command
    else:
        assert command.endswith(manual)
        # Without the files, prepare_builder refuses (and builds nothing) rather than trying.
        with pytest.raises(DatasetNotBuiltError):
            prepare_builder(name, data_dir=str(tmp_path))
    import tensorflow_datasets as tfds

    assert needs_manual_dir(tfds.builder(name, data_dir=str(tmp_path))) is (manual is not None)
