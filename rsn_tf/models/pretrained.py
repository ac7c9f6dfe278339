"""Initialise the generation module's ResNet34 trunk from local ImageNet weights.

No download happens at run time. The weights file is a ``.npz`` holding
torchvision's ResNet34 ``state_dict`` (PyTorch layout, keys such as
``conv1.weight``, ``layer2.0.downsample.0.weight``). Make it once, on any
machine with PyTorch and network access:

    python -c "import numpy as np, torchvision; sd = torchvision.models.resnet34(weights='IMAGENET1K_V1').state_dict(); np.savez('resnet34_imagenet.npz', **{k: v.numpy() for k, v in sd.items()})"

The stem's stride differs from torchvision's (1 instead of 2, no max-pool), which
does not change its kernel, so every trunk weight applies as is. The ``fc`` layer
is ignored.
"""

from __future__ import annotations

import os

import numpy as np

from rsn_tf.models.generation import GenerationModule

__all__ = ["load_resnet34_imagenet"]


def _conv(weights: np.ndarray) -> np.ndarray:
    return np.transpose(weights, (2, 3, 1, 0))  # (out, in, kh, kw) -> (kh, kw, in, out)


def _assignments(module: GenerationModule):
    """Yield (our variable, torchvision key, converter) for every trunk variable."""

    def bn(layer, prefix):
        yield layer.gamma, f"{prefix}.weight", None
        yield layer.beta, f"{prefix}.bias", None
        yield layer.moving_mean, f"{prefix}.running_mean", None
        yield layer.moving_variance, f"{prefix}.running_var", None

    yield module.stem.conv.kernel, "conv1.weight", _conv
    yield from bn(module.stem.bn, "bn1")
    index = 0
    for stage, blocks in enumerate(module.config.blocks, 1):
        for b in range(blocks):
            block = module.trunk[index]
            index += 1
            prefix = f"layer{stage}.{b}"
            yield block.conv1.conv.kernel, f"{prefix}.conv1.weight", _conv
            yield from bn(block.conv1.bn, f"{prefix}.bn1")
            yield block.conv2.kernel, f"{prefix}.conv2.weight", _conv
            yield from bn(block.bn2, f"{prefix}.bn2")
            if block.downsample is not None:
                yield block.downsample.kernel, f"{prefix}.downsample.0.weight", _conv
                yield from bn(block.downsample_bn, f"{prefix}.downsample.1")


def load_resnet34_imagenet(module: GenerationModule, path: str | os.PathLike) -> int:
    """Copy ImageNet ResNet34 weights into ``module``'s trunk; returns the variables set.

    Raises ``ValueError`` naming the file and key for a missing key or a shape mismatch
    (for example a width multiplier other than 1 or a non-ResNet34 block layout).
    """
    if not module.built:
        raise ValueError("module: build the generation module (call it once) before loading weights")
    if module.config.blocks != (3, 4, 6, 3) or module.config.width_multiplier != 1.0:
        raise ValueError(
            f"{path}: ImageNet ResNet34 weights need blocks (3, 4, 6, 3) and width_multiplier 1.0 "
            f"(the 'paper' preset); this module has blocks {module.config.blocks} and width "
            f"multiplier {module.config.width_multiplier}"
        )
    try:
        archive = np.load(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read the ResNet34 weights file ({error})") from error
    with archive:
        count = 0
        for variable, key, convert in _assignments(module):
            if key not in archive:
                raise ValueError(f"{path}: missing key {key!r}; is this a torchvision ResNet34 state_dict?")
            value = archive[key]
            value = convert(value) if convert else value
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"{path}: {key!r} has shape {tuple(value.shape)} (converted), expected {tuple(variable.shape)}"
                )
            variable.assign(value.astype(np.float32))
            count += 1
    return count
