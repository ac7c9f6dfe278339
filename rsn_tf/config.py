"""The experiment config: one nested, typed dataclass tree, in the style of TF Model Garden.

    ExperimentConfig
      task       which stage of the paper's schedule (Section 3.3) and its loss switches
      data       the TFDS dataset, batch size, evaluation split and augmentation
      model      the model preset (Table 1 or a CPU-sized one) and its initialisation
      optimizer  optimizer, learning rate and schedule
      trainer    run dir, budget (epochs, steps), checkpoints, logs, seed, export
      runtime    precision, XLA, logical CPU devices

Where a value comes from, lowest to highest precedence:

1. the dataclass defaults below;
2. the per-preset defaults, ``PRESET_DEFAULTS`` (the one table of them);
3. a config file, ``--config=FILE`` (YAML or JSON, nested like the tree above); a run's own
   ``config.yaml`` is such a file, so ``rsn-train --config=runs/rsn/config.yaml`` replays it;
4. the flags given on the command line.

Every field's flag is its own name (``data.batch_size`` is ``--batch_size``) and its help is in
its metadata, so the CLIs generate their flags from this file instead of copying them by hand.
Unknown keys and wrong types raise ``ConfigError`` naming the key. Keys renamed since earlier
runs wrote their config.yaml (``RENAMED_KEYS``) still load, with a note naming the new key; the
flags renamed with them still work, with a warning (``deprecated_flags``).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import sys
import types
import typing
from typing import Any, Literal

from rsn_tf.files import atomic_write_text
from rsn_tf.schedule import ALL, STAGE_ORDER

__all__ = [
    "ConfigError",
    "TaskConfig",
    "DataConfig",
    "ModelConfig",
    "OptimizerConfig",
    "TrainerConfig",
    "RuntimeConfig",
    "ExperimentConfig",
    "PRESET_DEFAULTS",
    "RENAMED_KEYS",
    "deprecated_flags",
    "upgrade_keys",
    "SECTIONS",
    "config_fields",
    "from_dict",
    "to_dict",
    "override",
    "load_file",
    "save_file",
    "flatten",
    "leaf_types",
    "preset_defaults",
    "fine_tuning_defaults",
    "resolve",
]


class ConfigError(ValueError):
    """A config key is unknown or has a value of the wrong type; the message names the key."""


def _field(default: Any, help: str, deprecated_flags: tuple[str, ...] = ()) -> Any:  # noqa: A002 - the help text
    """A config leaf; its flag is the field's name. ``deprecated_flags``: the flag's earlier names."""
    return dataclasses.field(default=default, metadata={"help": help, "deprecated_flags": deprecated_flags})


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    stage: str = _field(
        STAGE_ORDER[-1],
        f"Training stage: one of {', '.join(STAGE_ORDER)}, or '{ALL}' for the five in order.",
    )
    linear_epochs: int = _field(17, "Generation stage: epochs of linear Lr before switching to log Lr (paper: 17).")
    freeze: Literal["none", "generation", "refinement"] = _field(
        "none",
        "Keep this module fixed (its weights and BatchNorm statistics), on top of what the stage itself freezes; "
        "e.g. fine-tune only the refinement module with --init_from=RUN --freeze=generation.",
    )


@dataclasses.dataclass(frozen=True)
class DataConfig:
    dataset: str = _field("nyu_region_support/synthetic", "TFDS name/config, e.g. nyu_region_support/merged.")
    data_dir: str | None = _field(None, "TFDS data dir (default: TFDS's, ~/tensorflow_datasets).")
    manual_dir: str | None = _field(
        None, "Build a missing dataset from this dir first (the NYU files, the h5 tree or your RGB-D folder)."
    )
    batch_size: int = _field(8, "Global batch size (across all replicas and workers).")
    dataset_wait_timeout_s: float = _field(
        6 * 3600.0,
        "Multi-worker: seconds a non-chief worker waits for the chief to build a missing dataset in the shared "
        "--data_dir before it gives up.",
        deprecated_flags=("dataset_wait_timeout",),
    )
    train_split: str = _field(
        "train", "Split the stage trains on, in TFDS's syntax: train, or a part such as train[:70] or train[:25%]."
    )
    eval_split: str = _field("test", "Split the stage is evaluated on at its end.")
    eval_batches: int | None = _field(None, "Evaluate on this many batches (default: the whole split).")
    augment_scale: float = _field(1.0, "Training zoom range [1, s], depth divided by the zoom (Eigen et al.); 1 = off.")
    augment_flip: bool = _field(True, "Random horizontal flips (image and every target).")
    color_jitter: float = _field(0.2, "Colour-jitter strength (image only); 0 = off.")
    cache: str = _field("memory", "Cache the decoded, resized examples: '' (none), 'memory', or a file prefix.")
    shuffle_buffer: int = _field(512, "Training shuffle buffer, in examples.")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    preset: Literal["paper", "small", "tiny"] = _field(
        "tiny", "Model preset: paper (Table 1, 480x640), small or tiny (CPU demo)."
    )
    resnet34_weights: str | None = _field(None, "Local .npz of ImageNet ResNet34 weights for the generation trunk.")
    init_from: str | None = _field(
        None,
        "Fine-tune: start both modules (BatchNorm statistics included) from a trained model instead of the "
        "earlier stages, ImageNet or random weights: a run dir (its most finished stage), a stage dir, or a "
        ".keras file. Its model must fit --preset. Recorded resolved (the absolute stage dir or file).",
    )
    init_from_stage: str | None = _field(
        None,
        "With --init_from=RUN_DIR: take this stage of it instead of the most finished one. Recorded by rsn-train; "
        "given (or replayed from a config.yaml), the parent must be that stage.",
    )
    init_from_dataset: str | None = _field(
        None,
        "Recorded by rsn-train: the dataset the --init_from parent was trained on (its config.yaml). Given (or "
        "replayed from a config.yaml), the parent must have been trained on it.",
    )
    init_from_sha256: str | None = _field(
        None,
        "Recorded by rsn-train: SHA-256 of the --init_from parent's weight bytes (its generation.weights.h5 then "
        "refinement.weights.h5; a .keras file's model.weights.h5). Given (or replayed from a config.yaml), the "
        "parent must still hash to it.",
    )


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    optimizer: Literal["sgd", "momentum", "adam"] = _field("sgd", "Optimizer.")
    learning_rate: float = _field(1e-3, "Learning rate.")
    lr_schedule: Literal["constant", "cosine", "step"] = _field("constant", "Learning-rate schedule.")
    momentum: float = _field(0.9, "Momentum for --optimizer=momentum.")
    lr_step_every_epochs: int = _field(10, "For --lr_schedule=step: lr x 0.1 every N epochs.")
    clipnorm: float | None = _field(None, "Clip each gradient to this norm.")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    model_dir: str = _field("runs/rsn", "The run dir: config.yaml, and one stage dir per stage.")
    epochs: int = _field(40, "Epochs per stage.")
    steps_per_epoch: int | None = _field(None, "Steps per epoch (default: one pass over the training split).")
    checkpoint_every_steps: int = _field(50, "Save a checkpoint every N steps (and at the end).")
    keep_checkpoints: int = _field(3, "Checkpoints kept per stage.")
    log_every_steps: int = _field(10, "TensorBoard scalars every N steps.")
    image_summaries: int = _field(2, "Images per TensorBoard image summary (each epoch); 0 disables.")
    seed: int = _field(0, "Seed for data order, augmentation and initialisation.")
    inject_nan_at_step: int | None = _field(None, "Fault injection: make the loss NaN at this step (tests).")
    export: bool = _field(True, "After the last stage, export a SavedModel (as rsn-export does).")
    export_base: str = _field("export", "Where --export writes <export_base>/rsn/<version>/.")


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
    precision: Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"] = _field(
        "float32",
        "Compute precision. auto: mixed_bfloat16 on a CPU with AMX-BF16 or AVX512-BF16 (2-3x faster convolutions "
        "there), else float32. Variables, losses and the optimizer state stay float32.",
    )
    jit_compile: bool = _field(False, "Compile the train step with XLA (faster on GPUs, slower on this CPU).")
    remat: Literal["none", "trunk", "all"] = _field(
        "none",
        "Gradient checkpointing: recompute activations in the backward pass instead of keeping them, for the "
        "paper preset on a GPU short of memory. trunk: the generation module's residual blocks; all: those and each "
        'refinement iteration. The same arithmetic; the memory and time figures are in BENCHMARKS "GPU readiness".',
    )
    cpu_devices: int = _field(1, "Split the CPU into N logical devices and mirror over them (testing).")
    deterministic: bool = _field(
        False,
        "Deterministic kernels (TF op determinism, oneDNN's reordering optimisations off, one inter-op thread), so a "
        "replay of the run's config.yaml gives the same weights and metrics (to float noise, 1e-5 relative); costs "
        "10-30 % of a tiny step on 2 cores.",
    )
    worker_heartbeat_timeout_s: float = _field(
        60.0,
        "Multi-worker: a worker silent this long (seconds) is declared dead and the others stop (exit 43). Longer "
        "tolerates stalls (a stopped or starved process); shorter notices a dead worker sooner.",
        deprecated_flags=("worker_heartbeat_timeout",),
    )
    collective_timeout_s: float = _field(
        1800.0,
        "Multi-worker: seconds one all-reduce may wait for the other workers before the job stops (exit 43); it "
        "bounds a worker that is alive but stuck. It must exceed the slowest step, tracing included.",
        deprecated_flags=("collective_timeout",),
    )


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    task: TaskConfig = TaskConfig()
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    trainer: TrainerConfig = TrainerConfig()
    runtime: RuntimeConfig = RuntimeConfig()


# Section name -> its dataclass, in the tree's order.
SECTIONS: dict[str, type] = dict(typing.get_type_hints(ExperimentConfig))

# The one table of per-preset defaults (model architectures are in rsn_tf/models/presets.py).
# `paper` and `small` follow the paper: SGD with a fixed lr of 1e-3 for 40 epochs. `tiny` is
# the CPU demo: SGD at 1e-3 learns almost nothing in its 10-minute budget (measured: delta1
# 0.33 after 156 steps); Adam 3e-3 with cosine decay reaches delta1 0.7-0.9 in ~420 steps on
# 240 frames (BENCHMARKS.md). "ablation" holds what the Table 3 runner changes on top: every
# trained row's equal budget (`tiny` fits the whole table in <= 60 minutes on 2 CPU cores).
# "fine_tuning" holds what a run with model.init_from takes instead (a trained parent and a few
# dozen frames of a new domain), chosen by measurement on the synthetic worlds (BENCHMARKS.md
# "Fine-tuning defaults"); `paper` and `small` have none measured, so they keep their own.
PRESET_DEFAULTS: dict[str, dict[str, Any]] = {
    "paper": {
        "optimizer.optimizer": "sgd",
        "optimizer.learning_rate": 1e-3,
        "optimizer.lr_schedule": "constant",
        "trainer.epochs": 40,
        "ablation": {"trainer.epochs": 40},
    },
    "small": {
        "optimizer.optimizer": "sgd",
        "optimizer.learning_rate": 1e-3,
        "optimizer.lr_schedule": "constant",
        "trainer.epochs": 40,
        "ablation": {"trainer.epochs": 40},
    },
    "tiny": {
        "optimizer.optimizer": "adam",
        "optimizer.learning_rate": 3e-3,
        "optimizer.lr_schedule": "cosine",
        "trainer.epochs": 12,
        "ablation": {"trainer.epochs": 8},
        "fine_tuning": {"optimizer.learning_rate": 1e-3, "trainer.epochs": 20},
    },
}


# Keys renamed so that every key's leaf is its flag's name: old key -> new key. A config file
# (e.g. an earlier run's config.yaml) with an old key still loads, with a note.
RENAMED_KEYS: dict[str, str] = {
    "data.build_wait_s": "data.dataset_wait_timeout_s",
    "optimizer.name": "optimizer.optimizer",
    "optimizer.schedule": "optimizer.lr_schedule",
    "optimizer.step_every_epochs": "optimizer.lr_step_every_epochs",
}


def config_fields() -> dict[str, dataclasses.Field]:
    """Every leaf as ``"section.field" -> dataclasses.Field`` (its help and deprecated flags in metadata)."""
    return {f"{section}.{f.name}": f for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)}


def deprecated_flags() -> dict[str, str]:
    """Every earlier flag name -> the config key whose flag it was (the CLIs keep them as aliases)."""
    return {old: key for key, f in config_fields().items() for old in f.metadata["deprecated_flags"]}


def leaf_types() -> dict[str, Any]:
    """Every leaf's type hint, as ``"section.field" -> hint``."""
    return {
        f"{section}.{name}": hint
        for section, cls in SECTIONS.items()
        for name, hint in typing.get_type_hints(cls).items()
    }


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    return "null" if hint is type(None) else hint.__name__


def _check(key: str, value: Any, hint: Any) -> Any:
    """``value`` converted to ``hint`` where that loses nothing (int -> float); else ConfigError."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _check(key, value, option)
            except ConfigError:
                continue
    elif origin is Literal:
        if value in typing.get_args(hint):
            return value
    elif hint is type(None):
        if value is None:
            return None
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"config key '{key}': expected {_type_name(hint)}, got {type(value).__name__} {value!r}")


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{full}."))
        else:
            out[full] = value
    return out


def _unknown(key: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(f"unknown config key '{key}'{hint}; the keys are {', '.join(known)}")


def upgrade_keys(flat: dict[str, Any], where: str = "config") -> dict[str, Any]:
    """``flat`` (dotted keys) with every renamed key under its new name, saying so in one line on stderr."""
    out, renamed = {}, []
    for key, value in flat.items():
        new = RENAMED_KEYS.get(key)
        if new is not None:
            if new in flat:
                raise ConfigError(f"{where}: config keys '{key}' (deprecated) and '{new}' both given; keep '{new}'")
            renamed.append(f"'{key}' as '{new}'")
            key = new
        out[key] = value
    if renamed:
        print(f"{where}: deprecated config key(s) read under their new names: {', '.join(renamed)}", file=sys.stderr)
    return out


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def override(config: ExperimentConfig, changes: dict[str, Any]) -> ExperimentConfig:
    """``config`` with dotted keys replaced, e.g. ``{"trainer.epochs": 3}``; checks keys and types."""
    changes = upgrade_keys(changes)
    hints = leaf_types()
    sections: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        if key in SECTIONS:
            raise ConfigError(f"config key '{key}' is a section; give its fields, e.g. '{key}.{_first_field(key)}'")
        if key not in hints:
            raise _unknown(key, sorted(hints))
        section, name = key.split(".", 1)
        sections.setdefault(section, {})[name] = _check(key, value, hints[key])
    replaced = {s: dataclasses.replace(getattr(config, s), **v) for s, v in sections.items()}
    return dataclasses.replace(config, **replaced)


def _first_field(section: str) -> str:
    return dataclasses.fields(SECTIONS[section])[0].name


def from_dict(data: dict, base: ExperimentConfig | None = None) -> ExperimentConfig:
    """A nested dict (as in config.yaml) over ``base`` (default: the dataclass defaults)."""
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping of sections ({', '.join(SECTIONS)}), got {type(data).__name__}")
    for section, value in data.items():
        if section not in SECTIONS:
            raise _unknown(section, list(SECTIONS))
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{section}' is a section: expected a mapping, got {value!r}")
    return override(base or ExperimentConfig(), flatten(data))


def to_dict(config: ExperimentConfig) -> dict[str, dict[str, Any]]:
    return dataclasses.asdict(config)


def load_file(path: str) -> dict:
    """The nested dict in a YAML (.yaml, .yml) or JSON (.json) config file."""
    import yaml

    if not os.path.isfile(path):
        raise ConfigError(f"--config={path}: no such file")
    with open(path) as fh:
        text = fh.read()
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ConfigError(
            f"--config={path}: not valid {'JSON' if path.endswith('.json') else 'YAML'} ({error})"
        ) from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"--config={path}: expected a mapping of sections ({', '.join(SECTIONS)}), got {type(data).__name__}"
        )
    flat = flatten(data)
    if any(key in RENAMED_KEYS for key in flat):
        data = _nest(upgrade_keys(flat, path))
    return data


def save_file(config: ExperimentConfig, path: str) -> str:
    """Write the resolved config as YAML (or JSON for a .json path), atomically; returns the path."""
    import yaml

    data = to_dict(config)
    header = "# Resolved RSN-TF experiment config. Replay it with: rsn-train --config=THIS_FILE\n"
    text = (
        json.dumps(data, indent=2) + "\n" if path.endswith(".json") else header + yaml.safe_dump(data, sort_keys=False)
    )
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    atomic_write_text(path, text)
    return path


def preset_defaults(preset: str, purpose: Literal["train", "ablation"] = "train") -> dict[str, Any]:
    """The dotted-key defaults of ``preset`` for training or for the Table 3 runner."""
    if preset not in PRESET_DEFAULTS:
        raise ConfigError(
            f"config key 'model.preset': unknown preset {preset!r}; expected one of {sorted(PRESET_DEFAULTS)}"
        )
    table = dict(PRESET_DEFAULTS[preset])
    extra = table.pop("ablation")
    table.pop("fine_tuning", None)
    if purpose == "ablation":
        table.update(extra)
    return table


def fine_tuning_defaults(preset: str) -> dict[str, Any]:
    """The dotted-key defaults a fine-tuning run (``model.init_from``) of ``preset`` takes on top of the preset's."""
    preset_defaults(preset)  # refuses an unknown preset
    return dict(PRESET_DEFAULTS[preset].get("fine_tuning", {}))


def resolve(
    file_data: dict | None = None,
    flag_values: dict[str, Any] | None = None,
    purpose: Literal["train", "ablation"] = "train",
) -> ExperimentConfig:
    """Defaults < preset defaults (< its fine-tuning defaults, when the run has a parent) < config
    file < flags (dotted keys). The preset is the flags' ``model.preset`` if given, else the
    file's, else the default."""
    file_data = file_data or {}
    flag_values = flag_values or {}
    base = from_dict(file_data)  # validates the file's keys and types first
    preset = flag_values.get("model.preset", base.model.preset)
    config = override(ExperimentConfig(), preset_defaults(preset, purpose))
    if purpose == "train" and flag_values.get("model.init_from", base.model.init_from):
        config = override(config, fine_tuning_defaults(preset))
    config = from_dict(file_data, config)
    return override(config, flag_values)
