"""Semantic guidance is categorical: a learned embedding of the class ids, sized by the dataset.

Hand-made label maps, so each expectation is known without running the code under test.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import SHARED_DATASET

from rsn_tf.models import RefinementModule, RegionSupportNetwork, RSNConfig, get_preset

CLASSES = 20  # a synthetic world's class count
CONFIG = get_preset("tiny", height=32, width=48, guidance="semantic", semantic_classes=CLASSES)


def two_class_map(left: int, right: int, h: int = 8, w: int = 12) -> np.ndarray:
    """Class ``left`` on the left half, ``right`` on the right half: (1, h, w, 1)."""
    labels = np.full((1, h, w, 1), left, np.int32)
    labels[:, :, w // 2 :] = right
    return labels


def trainable_count(layer) -> int:
    return sum(int(np.prod(v.shape)) for v in layer.trainable_variables)


def built_refinement(config: RSNConfig = CONFIG, seed: int = 0) -> RefinementModule:
    keras.utils.set_random_seed(seed)
    model = RegionSupportNetwork(config)
    model.build()
    return model.refinement


@pytest.mark.parametrize("left, right", [(3, 17), (17, 3), (3, 4)])
def test_two_classes_get_clearly_different_guidance_whatever_their_ids(left, right):
    """A scalar id / class count gives 3 and 4 guidance values 0.05 apart (1/20): nearly one class.
    The embedding gives each class its own vector, so any two differ at unit scale."""
    refinement = built_refinement()
    guidance = refinement.semantic_embedding(two_class_map(left, right)).numpy()[0]
    assert guidance.shape == (8, 12, CONFIG.semantic_embedding_channels)
    a, b = guidance[:, :6].reshape(-1, guidance.shape[-1]), guidance[:, 6:].reshape(-1, guidance.shape[-1])
    assert (a == a[0]).all() and (b == b[0]).all()  # one vector per class
    assert np.linalg.norm(a[0] - b[0]) > 0.5
    # The refinement module's input follows the encoding: RGB + embedding + depth.
    assert refinement.extractor[0].conv.kernel.shape[2] == 3 + CONFIG.guidance_channels + 1 == 3 + 8 + 1
    assert [CONFIG.replace(guidance=g).guidance_channels for g in ("region_support", "none")] == [1, 0]


def test_relabelling_the_classes_leaves_capacity_and_outputs_unchanged():
    """Permuting the ids (0, unlabelled, stays 0) with the embedding's rows gives the same outputs:
    the encoding puts no order on the classes. A scalar id / class count would change them."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, CLASSES + 1, (2, 32, 48, 1)).astype(np.int32)
    permutation = np.concatenate([[0], 1 + rng.permutation(CLASSES)])  # old id -> new id
    relabelled = permutation[labels]
    image = rng.uniform(0, 255, (2, 32, 48, 3)).astype(np.float32)
    coarse = rng.uniform(1, 5, (2, 32, 48, 1)).astype(np.float32)

    original = built_refinement(seed=0)
    other = built_refinement(seed=1)
    assert trainable_count(other) == trainable_count(original)
    other.set_weights(original.get_weights())
    table = original.semantic_embedding.embeddings.numpy()
    permuted = np.empty_like(table)
    permuted[permutation] = table  # the new id's row is the old id's
    other.semantic_embedding.embeddings.assign(permuted)

    expected = original(image, coarse, labels, training=False)[-1].numpy()
    got = other(image, coarse, relabelled, training=False)[-1].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # The relabelled map does change the outputs of the unpermuted table: the test can tell.
    assert not np.allclose(original(image, coarse, relabelled, training=False)[-1].numpy(), expected, rtol=1e-4)


def test_the_embedding_learns_only_the_rows_of_classes_present():
    refinement = built_refinement()
    image = np.random.default_rng(0).uniform(0, 255, (1, 8, 12, 3)).astype(np.float32)
    table = refinement.semantic_embedding.embeddings
    with tf.GradientTape() as tape:
        depth = refinement(image, np.full((1, 8, 12, 1), 2.0, np.float32), two_class_map(3, 17), training=True)[-1]
        loss = tf.reduce_mean(tf.square(depth - 3.0))
    grad = tf.convert_to_tensor(tape.gradient(loss, table)).numpy()
    assert (np.abs(grad[[3, 17]]).sum(axis=1) > 0).all()  # each present class's row moves
    assert not np.delete(grad, [3, 17], axis=0).any()  # the others keep their values


def test_class_ids_beyond_the_count_fail_naming_the_field():
    refinement = built_refinement()
    refinement.semantic_embedding(two_class_map(0, CLASSES))  # 0..CLASSES are valid
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"label: class id beyond the {CLASSES} classes"):
        refinement.semantic_embedding(two_class_map(1, CLASSES + 1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="label: negative class id"):
        refinement.semantic_embedding(two_class_map(-1, 1))


def test_a_config_from_the_scalar_encoding_is_refused_naming_the_field():
    old = {k: v for k, v in CONFIG.to_dict().items() if k != "semantic_embedding_channels"}
    with pytest.raises(ValueError, match="semantic_embedding_channels is missing"):
        RSNConfig.from_dict(old)
    # Other guidance never read the field: their old configs still load.
    assert RSNConfig.from_dict({**old, "guidance": "region_support"}).semantic_embedding_channels == 8
    with pytest.raises(ValueError, match="semantic_embedding_channels"):
        CONFIG.replace(semantic_embedding_channels=0)


def test_the_class_count_follows_the_built_dataset_into_training_and_a_saved_stage(mini_data_dir, tmp_path):
    import tensorflow_datasets as tfds

    from rsn_tf import config as config_lib
    from rsn_tf.evaluation.table3 import ROWS
    from rsn_tf.run_dir import StageDir
    from rsn_tf.training.task import RSNTask
    from tfds_nyu import class_names

    names = class_names(tfds.builder(SHARED_DATASET, data_dir=mini_data_dir).info)
    classes = len(names) - 1  # names[0] is "unlabeled", id 0
    assert classes != 894
    config = config_lib.override(
        config_lib.ExperimentConfig(),
        {"model.preset": "tiny", "data.dataset": SHARED_DATASET, "data.data_dir": mini_data_dir, "data.batch_size": 2},
    )
    task = RSNTask(config, ROWS["refinement_semantic"].stage)  # the ablation row's stage
    model = task.build_model()
    assert model.config.semantic_classes == classes
    assert model.refinement.semantic_embedding.embeddings.shape == (classes + 1, 8)
    # The dataset's ids fit the embedding: one real test batch runs.
    batch = next(iter(task.build_inputs("test", training=False)))
    assert model(task.model_inputs(batch), training=False)["depth"].shape[0] == 2
    # A saved stage rebuilds with the same count (model_config.json), weights included.
    stage = StageDir(str(tmp_path / "refinement_semantic"))
    stage.write_model(model, ROWS["refinement_semantic"].stage.to_dict())
    loaded, _ = stage.load_model()
    assert loaded.config.semantic_classes == classes
    np.testing.assert_array_equal(
        loaded.refinement.semantic_embedding.embeddings.numpy(), model.refinement.semantic_embedding.embeddings.numpy()
    )
