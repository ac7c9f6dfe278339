"""Models: shapes, Table 1 parameter counts, gradients, freezing, iterations, saving, overfitting."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from rsn_tf.flops import count_flops, model_flops
from rsn_tf.losses import combined_loss, iterative_loss, region_loss
from rsn_tf.models import (
    GenerationModule,
    PyramidPoolingUnit,
    RefinementModule,
    RegionSupportNetwork,
    RSNConfig,
    get_preset,
)

# A very small configuration for fast tests: the architecture of the presets, narrower.
TEST_CONFIG = get_preset("tiny", height=32, width=48)


def images(batch: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (batch, h, w, 3)).astype(np.float32)


def depth_targets(batch: int, h: int, w: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    yy = np.linspace(1.0, 6.0, h, dtype=np.float32)[None, :, None, None]
    depth = np.broadcast_to(yy, (batch, h, w, 1)).copy() + rng.uniform(0, 0.3, (batch, h, w, 1)).astype(np.float32)
    regions = (np.arange(h)[None, :, None, None] // 4 + 1).astype(np.int32) * np.ones((batch, 1, w, 1), np.int32)
    return depth, regions


# ------------------------------------------------------------------ shapes


@pytest.mark.parametrize("h, w", [(97, 131), (33, 47), (64, 64)])
def test_output_shapes_for_odd_sizes(h, w):
    model = RegionSupportNetwork(TEST_CONFIG)
    out = model(images(2, h, w), training=False)
    assert out["region_support"].shape == (2, h, w, 1)
    assert out["depth"].shape == (2, h, w, 1)
    assert [t.shape for t in out["depth_iterations"]] == [(2, h, w, 1)] * 3
    assert np.all(out["depth"].numpy() > 0) and np.all(out["region_support"].numpy() > 0)


def test_pyramid_pooling_averages_only_real_pixels_and_is_at_least_1x1():
    layer = PyramidPoolingUnit(1, scales=(1 / 4, 1 / 160))
    x = np.arange(35, dtype=np.float32).reshape(1, 5, 7, 1)
    layer.build(x.shape)
    for branch in layer.branches:  # identity branches: y = x / sqrt(1 + eps) in inference
        branch.conv.kernel.assign(np.ones((1, 1, 1, 1), np.float32))
    y = layer(x, training=False).numpy()
    assert y.shape == (1, 5, 7, 3)
    scale = 1 / np.sqrt(1 + 1e-5)
    np.testing.assert_allclose(y[..., 0], x[..., 0])  # the input is passed through
    # 1/4: 'same' pooling of 5x7 by 4 gives 2x2 windows. TF pads rows by 1 above and 2 below,
    # columns by 0 left and 1 right, so the windows' real pixels are rows [0:3] | [3:5] and
    # columns [0:4] | [4:7]. The corners of the bilinear resize equal the corner windows, and
    # a window's mean is over its real pixels only (with zero padding counted it would be lower).
    assert y[0, 0, 0, 1] == pytest.approx(x[0, 0:3, 0:4, 0].mean() * scale, rel=1e-5)
    assert y[0, -1, -1, 1] == pytest.approx(x[0, 3:5, 4:7, 0].mean() * scale, rel=1e-5)
    # 1/160 on a 5x7 map: one 1x1 cell holding the global mean, spread everywhere.
    np.testing.assert_allclose(y[..., 2], x.mean() * scale, rtol=1e-5)


# ------------------------------------------------------------------ Table 1 parameter counts


def conv_bn(k: int, cin: int, cout: int) -> int:
    """A bias-free conv plus BN's trainable gamma and beta."""
    return k * k * cin * cout + 2 * cout


def basic_block(cin: int, cout: int, stride: int = 1) -> int:
    projection = conv_bn(1, cin, cout) if stride != 1 or cin != cout else 0
    return conv_bn(3, cin, cout) + conv_bn(3, cout, cout) + projection


def resnet34_trunk() -> int:
    count = conv_bn(7, 3, 64)  # layer 1
    count += 3 * basic_block(64, 64)  # stage 1 (2-4)
    count += basic_block(64, 128, 2) + 3 * basic_block(128, 128)  # stage 2
    count += basic_block(128, 256) + 5 * basic_block(256, 256)  # stage 3
    count += basic_block(256, 512) + 2 * basic_block(512, 512)  # stage 4
    return count


def generation_by_hand() -> int:
    count = resnet34_trunk()
    count += 8 * conv_bn(1, 512, 64)  # 21: pyramid, 8 scales
    count += conv_bn(3, 1024, 512)  # 22 on 512 + 8*64
    count += conv_bn(3, 1024, 512)  # 23 after concat with 20
    count += conv_bn(3, 512, 256)  # 24
    count += 3 * 3 * 256 * 64 + 2 * 64  # x2 deconv + BN
    count += conv_bn(3, 128, 128) + conv_bn(3, 128, 64)  # 26, 27 after concat
    count += conv_bn(3, 64, 64) + conv_bn(3, 64, 32)  # 28, 29
    count += 3 * 3 * 32 * 1 + 1  # 30: last conv, bias
    return count


def refinement_by_hand(in_channels: int = 5) -> int:
    count = conv_bn(7, in_channels, 64) + 3 * conv_bn(3, 64, 64)  # 1-4
    count += conv_bn(3, 64, 128) + conv_bn(3, 128, 128)  # 5-6
    count += 8 * conv_bn(1, 128, 16)  # 7: pyramid
    count += conv_bn(3, 256, 128) + conv_bn(3, 256, 128)  # 8, 9 (concat with 6)
    count += conv_bn(3, 128, 128) + conv_bn(3, 128, 64) + conv_bn(3, 64, 64)  # 10-12
    count += conv_bn(3, 64, 32) + conv_bn(3, 32, 32)  # 13-14
    count += 3 * 3 * 32 * 1 + 1  # 15
    return count


def trainable_count(layer) -> int:
    return sum(int(np.prod(v.shape)) for v in layer.trainable_variables)


def test_resnet34_trunk_matches_torchvision_published_size():
    # torchvision's resnet34 has 21,797,672 parameters, 513,000 of them in the fc layer.
    assert resnet34_trunk() == 21_797_672 - 513_000


@pytest.fixture(scope="module")
def paper_model():
    model = RegionSupportNetwork(get_preset("paper"))
    model(images(1, 17, 23), training=False)  # small input: the parameter count is size-independent
    return model


def test_paper_generation_parameter_count_matches_table_1(paper_model):
    gen = paper_model.generation
    assert trainable_count(gen) == generation_by_hand()
    trunk = trainable_count(gen.stem) + sum(trainable_count(b) for b in gen.trunk)
    assert trunk == resnet34_trunk()


def test_paper_refinement_parameter_count_matches_table_1(paper_model):
    assert trainable_count(paper_model.refinement) == refinement_by_hand(5)
    no_guidance = RefinementModule(get_preset("paper", guidance="none"))
    no_guidance(images(1, 9, 9), np.ones((1, 9, 9, 1), np.float32))
    assert trainable_count(no_guidance) == refinement_by_hand(4)  # Table 1's 4-channel input


# ------------------------------------------------------------------ gradients and freezing


def losses_for(model_kind: str, out, depth, regions):
    if model_kind == "generation_only":
        return tf.reduce_mean(region_loss(depth, out["region_support"], regions, mode="linear"))
    if model_kind == "teacher_forcing":
        return tf.reduce_mean(iterative_loss(depth, out["depth_iterations"], regions))
    return tf.reduce_mean(combined_loss(depth, out["region_support"], depth, out["depth_iterations"], regions)["total"])


@pytest.mark.parametrize("kind", ["generation_only", "teacher_forcing", "end_to_end"])
def test_gradients_reach_every_trainable_variable(kind):
    model = RegionSupportNetwork(
        TEST_CONFIG, generation_only=kind == "generation_only", teacher_forcing=kind == "teacher_forcing"
    )
    x = images(2, 32, 48)
    depth, regions = depth_targets(2, 32, 48)
    inputs = {"image": x, "region_support": depth}
    model(inputs)
    with tf.GradientTape() as tape:
        loss = losses_for(kind, model(inputs, training=True), depth, regions)
    expected = {
        "generation_only": model.generation.trainable_variables,
        "teacher_forcing": model.refinement.trainable_variables,
        "end_to_end": model.trainable_variables,
    }[kind]
    grads = tape.gradient(loss, expected)
    missing = [v.path for v, g in zip(expected, grads) if g is None or not np.any(g.numpy())]
    assert not missing, f"no gradient for {missing[:5]}"


@pytest.mark.parametrize("frozen", ["generation", "refinement"])
def test_freezing_really_freezes(frozen):
    model = RegionSupportNetwork(TEST_CONFIG)
    x = images(2, 32, 48)
    depth, regions = depth_targets(2, 32, 48)
    model(x)
    getattr(model, f"freeze_{frozen}")(True)
    part = getattr(model, frozen)
    other = model.refinement if frozen == "generation" else model.generation
    before = [v.numpy().copy() for v in part.weights]  # moving BN statistics included
    other_before = [v.numpy().copy() for v in other.trainable_variables]
    optimizer = keras.optimizers.SGD(0.1)
    with tf.GradientTape() as tape:
        loss = losses_for("end_to_end", model(x, training=True), depth, regions)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    assert not part.trainable_variables
    for b, v in zip(before, part.weights):
        np.testing.assert_array_equal(b, v.numpy(), err_msg=v.path)
    assert any(not np.array_equal(b, v.numpy()) for b, v in zip(other_before, other.trainable_variables))


def test_refinement_iterations_differ_and_default_to_three():
    assert RSNConfig().refinement_iterations == 3
    model = RegionSupportNetwork(TEST_CONFIG)
    x = images(1, 32, 48)
    depth, regions = depth_targets(1, 32, 48)
    optimizer = keras.optimizers.Adam(1e-2)
    for _ in range(3):  # a few steps so the correction is not near its tiny initial value
        with tf.GradientTape() as tape:
            loss = losses_for("end_to_end", model(x, training=True), depth, regions)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    its = [t.numpy() for t in model(x, training=False)["depth_iterations"]]
    assert len(its) == 3
    assert not np.allclose(its[0], its[1], rtol=1e-4) and not np.allclose(its[1], its[2], rtol=1e-4)


def test_semantic_and_no_guidance_variants_run():
    x = images(1, 32, 48)
    labels = np.random.default_rng(0).integers(0, 13, (1, 32, 48, 1))
    semantic = RegionSupportNetwork(TEST_CONFIG.replace(guidance="semantic"))
    assert semantic({"image": x, "label": labels})["depth"].shape == (1, 32, 48, 1)
    with pytest.raises(ValueError, match="label"):
        semantic({"image": x})
    assert RegionSupportNetwork(TEST_CONFIG.replace(guidance="none"))(x)["depth"].shape == (1, 32, 48, 1)
    with pytest.raises(ValueError, match="region_support"):
        RegionSupportNetwork(TEST_CONFIG, teacher_forcing=True)(x)


# ------------------------------------------------------------------ saving


def test_keras_save_load_round_trip_gives_identical_outputs(tmp_path):
    model = RegionSupportNetwork(TEST_CONFIG.replace(guidance="semantic"))
    x = images(2, 37, 41)
    labels = np.ones((2, 37, 41, 1), np.int32)
    inputs = {"image": x, "label": labels}
    expected = model(inputs, training=False)
    path = tmp_path / "rsn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, RegionSupportNetwork) and loaded.config == model.config
    got = loaded(inputs, training=False)
    np.testing.assert_array_equal(got["depth"].numpy(), expected["depth"].numpy())
    np.testing.assert_array_equal(got["region_support"].numpy(), expected["region_support"].numpy())


# ------------------------------------------------------------------ capacity and FLOPs


@pytest.mark.slow
def test_tiny_rsn_overfits_one_batch():
    model = RegionSupportNetwork(get_preset("tiny", height=48, width=64))
    x = images(2, 48, 64, seed=3)
    depth, regions = depth_targets(2, 48, 64, seed=3)
    model(x)
    optimizer = keras.optimizers.Adam(2e-3)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = losses_for("end_to_end", model(x, training=True), depth, regions)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    # At most 200 steps; stop once the loss is down to a tenth (about 20 steps here), which is the claim.
    first = last = float(step())
    for _ in range(199):
        last = float(step())
        if last <= 0.1 * first:
            break
    assert last <= 0.1 * first, f"loss fell from {first:.4f} to {last:.4f} only"


def test_flop_counter_on_a_single_conv():
    conv = keras.layers.Conv2D(32, 3, padding="same", use_bias=False)
    conv.build((1, 32, 32, 16))
    assert count_flops(lambda x: conv(x), [tf.TensorSpec((1, 32, 32, 16))]) == 2 * 3 * 3 * 16 * 32 * 32 * 32
    strided = keras.layers.Conv2D(8, 5, strides=2, padding="same", use_bias=False)
    strided.build((1, 20, 30, 4))
    assert count_flops(lambda x: strided(x), [tf.TensorSpec((1, 20, 30, 4))]) == 2 * 5 * 5 * 4 * 8 * 10 * 15


def test_generation_flops_exceed_the_stem_and_first_block_counted_by_hand():
    # FLOPs of the stem + stage 1 at full resolution, by hand, are a lower bound.
    cfg = TEST_CONFIG
    gen = GenerationModule(cfg)
    gen(images(1, 32, 48))
    c = cfg.channels(64)
    lower = 2 * 32 * 48 * (7 * 7 * 3 * c + 2 * 9 * c * c)  # stem + one BasicBlock at full resolution
    assert model_flops(gen, 32, 48) > lower


# ------------------------------------------------------------------ ImageNet initialisation


def torchvision_resnet34_state_dict(rng) -> dict[str, np.ndarray]:
    """Random arrays with torchvision's ResNet34 state_dict keys and PyTorch shapes."""
    sd = {"conv1.weight": rng.normal(size=(64, 3, 7, 7))}

    def bn(prefix, c):
        for name in ("weight", "bias", "running_mean", "running_var"):
            sd[f"{prefix}.{name}"] = rng.uniform(0.5, 1.5, size=(c,))

    bn("bn1", 64)
    cin = 64
    for stage, (blocks, cout) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), 1):
        for b in range(blocks):
            p = f"layer{stage}.{b}"
            sd[f"{p}.conv1.weight"] = rng.normal(size=(cout, cin if b == 0 else cout, 3, 3))
            bn(f"{p}.bn1", cout)
            sd[f"{p}.conv2.weight"] = rng.normal(size=(cout, cout, 3, 3))
            bn(f"{p}.bn2", cout)
            if b == 0 and cin != cout:
                sd[f"{p}.downsample.0.weight"] = rng.normal(size=(cout, cin, 1, 1))
                bn(f"{p}.downsample.1", cout)
        cin = cout
    sd["fc.weight"] = rng.normal(size=(1000, 512))
    return {k: v.astype(np.float32) for k, v in sd.items()}  # PyTorch weights are float32


def test_resnet34_imagenet_weights_load_into_the_trunk(tmp_path, paper_model):
    from rsn_tf.models.pretrained import load_resnet34_imagenet

    sd = torchvision_resnet34_state_dict(np.random.default_rng(0))
    path = tmp_path / "resnet34.npz"
    np.savez(path, **sd)
    gen = paper_model.generation
    assigned = load_resnet34_imagenet(gen, path)
    assert assigned == len(sd) - 1  # everything but fc
    np.testing.assert_array_equal(gen.stem.conv.kernel.numpy(), np.transpose(sd["conv1.weight"], (2, 3, 1, 0)))
    block = gen.trunk[3]  # layer2.0, the strided block with a projection shortcut
    np.testing.assert_array_equal(
        block.downsample.kernel.numpy()[0, 0], sd["layer2.0.downsample.0.weight"][:, :, 0, 0].T
    )
    np.testing.assert_allclose(block.bn2.moving_variance.numpy(), sd["layer2.0.bn2.running_var"], rtol=1e-6)

    del sd["layer3.2.conv1.weight"]
    np.savez(tmp_path / "broken.npz", **sd)
    with pytest.raises(ValueError, match=r"broken.npz: missing key 'layer3.2.conv1.weight'"):
        load_resnet34_imagenet(gen, tmp_path / "broken.npz")
    tiny = GenerationModule(TEST_CONFIG)
    tiny(images(1, 8, 8))
    with pytest.raises(ValueError, match="paper"):
        load_resnet34_imagenet(tiny, path)


def test_mixed_bfloat16_outputs_float32_close_to_float32_model():
    from rsn_tf.runtime import inference_function, set_precision

    x = images(1, 32, 48, seed=9)
    keras.utils.set_random_seed(0)
    reference = RegionSupportNetwork(TEST_CONFIG)
    reference.build()
    expected = reference(x, training=False)["depth"].numpy()
    set_precision("mixed_bfloat16")
    try:
        model = RegionSupportNetwork(TEST_CONFIG)
        model.build()
        model.set_weights(reference.get_weights())
        got = inference_function(model)(x)["depth"]
        assert model.generation.stem.conv.compute_dtype == "bfloat16"
    finally:
        set_precision("float32")
    assert got.dtype == tf.float32
    relative = np.abs(got.numpy() - expected) / expected
    # 0.025 on an AVX2 machine; 0.05-0.18 there while the pyramid pooling summed its windows in bfloat16.
    assert np.mean(relative) < 0.03
    with pytest.raises(ValueError, match="precision"):
        set_precision("float8")


def test_building_the_network_runs_each_module_once_not_a_symbolic_trace_first(monkeypatch):
    # The quick start: Keras's default build traces a module's call() symbolically before the
    # real call; the modules' own build skips that, and every variable still exists.
    calls = {"generation": 0, "refinement": 0}
    for name, cls in (("generation", GenerationModule), ("refinement", RefinementModule)):
        original = cls.call

        def counted(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "call", counted)
    model = RegionSupportNetwork(TEST_CONFIG)
    model.build()
    assert calls == {"generation": 1, "refinement": 1}
    # The variables of every sublayer: the generation module by hand (its convs, BN and head).
    c = TEST_CONFIG.channels
    assert model.generation.stem.conv.kernel.shape == (7, 7, 3, c(64))
    assert model.generation.head.kernel.shape == (3, 3, c(32), 1)
    assert all(layer.built for layer in model._flatten_layers())


@pytest.mark.parametrize("guidance", ["region_support", "semantic", "none"])
def test_a_module_saved_alone_loads_back_with_every_weight(tmp_path, guidance):
    # Keras rebuilds a loaded layer through build_from_config; the modules' build() makes no
    # variables (they come from the first call), so loading must make them by a call.
    config = TEST_CONFIG.replace(guidance=guidance, semantic_classes=5)
    image = images(1, 16, 24)
    pixels = (1, 16, 24, 1)
    guide = {"none": None, "semantic": np.ones(pixels, np.int32)}.get(guidance, np.full(pixels, 0.3, np.float32))
    for module, args in (
        (GenerationModule(config), (image,)),
        (RefinementModule(config), (image, np.full(pixels, 2.0, np.float32), guide)),
    ):
        module(*args)
        rng = np.random.default_rng(1)
        for variable in module.weights:  # values no initialiser gives
            variable.assign(rng.normal(size=variable.shape).astype(np.float32))
        path = str(tmp_path / f"{module.name}.keras")
        module.save(path)
        loaded = keras.saving.load_model(path)
        assert len(loaded.weights) == len(module.weights) > 20
        for a, b in zip(sorted(module.weights, key=lambda v: v.path), sorted(loaded.weights, key=lambda v: v.path)):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
