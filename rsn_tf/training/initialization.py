"""Where a stage's weights start: a parent model (``--init_from``), else earlier stages of the same
run, else ImageNet, else random.

**Fine-tuning** (``--init_from=PATH``): every stage this invocation trains starts from the parent's
weights, both modules, BatchNorm moving statistics included, instead of the schedule's chaining.
PATH is a run dir (its most finished stage, ``rsn_tf.run_dir``: furthest along the schedule, then
finished last; ``--init_from_stage`` picks another), a stage dir, or a ``.keras`` file.
``resolve_parent`` checks that the parent is whole (a finished manifest, its model config, weight
files that read to their last byte) before any work, and ``check_fits`` that its model has the
architecture of this run's preset. The parent is recorded in the run's config (``model.init_from``,
``init_from_stage``, ``init_from_dataset``, ``init_from_sha256``), so it is part of the run's
identity, and a replayed config.yaml checks that its parent is still the same.

**The parent's hash** (``init_from_sha256``): SHA-256 of the bytes of its weight files, in this
order: a stage dir's ``generation.weights.h5`` then ``refinement.weights.h5`` (the same as
``cat generation.weights.h5 refinement.weights.h5 | sha256sum``); a ``.keras`` file's
``model.weights.h5`` member (``unzip -p model.keras model.weights.h5 | sha256sum``).

Without a parent, each StageSpec lists, per module, the earlier stages to take its weights from,
most preferred first (Section 3.3's chaining). A module with no earlier weights starts from random
initialisation, with a warning that says what was looked for.

This module imports TensorFlow nowhere at its top: the CLI resolves the parent before TensorFlow
starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import zipfile
from typing import Any

from rsn_tf import config as config_lib
from rsn_tf.errors import UserError
from rsn_tf.run_dir import KERAS_WEIGHTS_MEMBER, MANIFEST_FILE, MODULES, RunDir, StageDir
from rsn_tf.schedule import StageSpec

__all__ = [
    "FineTuningError",
    "Parent",
    "resolve_parent",
    "with_parent",
    "check_fits",
    "check_freeze",
    "parent_sha256",
    "initialise",
]

# RSNConfig fields that do not decide the weights' shapes or meaning: a preset's name, and the
# label embedding's class count and width (compared only where the refinement module is guided
# by the labels: there they shape its embedding table and conv1).
_SEMANTIC_FIELDS = ("semantic_classes", "semantic_embedding_channels")
_NOT_COMPARED = ("name", *_SEMANTIC_FIELDS)
_CHUNK = 1 << 20


class FineTuningError(UserError, ValueError):
    """--init_from or --freeze cannot be honoured; the message names the path, field or flag."""


@dataclasses.dataclass(frozen=True)
class Parent:
    """A trained model a run starts from (``resolve_parent``)."""

    given: str  # --init_from as given
    path: str  # absolute: the stage dir, or the .keras file
    kind: str  # "stage" or "keras"
    stage: str | None  # the stage dir's name (None for a .keras file)
    dataset: str | None  # what it was trained on (its config.yaml; None when unknown)
    sha256: str  # see the module docstring
    model_config: dict[str, Any]  # its RSNConfig, as a dict
    manifest: dict[str, Any]  # its stage.json ({} for a .keras file)

    @property
    def flag(self) -> str:
        return f"--init_from={self.given}"

    @property
    def weights_files(self) -> tuple[str, ...]:
        if self.kind == "keras":
            return (self.path,)
        return tuple(StageDir(self.path).weights_path(m) for m in MODULES)

    def record(self) -> dict[str, Any]:
        """The config keys that record the parent (dotted)."""
        return {
            "model.init_from": self.path,
            "model.init_from_stage": self.stage,
            "model.init_from_dataset": self.dataset,
            "model.init_from_sha256": self.sha256,
        }

    def describe(self) -> str:
        what = f"stage '{self.stage}'" if self.stage else "a .keras file"
        return f"{self.path} ({what}, trained on {self.dataset or 'an unknown dataset'}; weights sha256 {self.sha256})"


# ------------------------------------------------------------------ resolving the parent


def resolve_parent(given: str, stage: str | None = None) -> Parent:
    """The parent ``--init_from=given`` names, checked whole; FineTuningError names the path otherwise."""
    flag = f"--init_from={given}"
    path = os.path.abspath(os.path.expanduser(given))
    if not os.path.exists(path):
        raise FineTuningError(
            f"{flag}: no such file or directory ({path}). Give a run dir (an rsn-train --model_dir), one of "
            "its stage dirs, or a .keras file."
        )
    if os.path.isdir(path):
        return _stage_parent(given, _pick_stage(flag, path, stage))
    if path.endswith(".keras"):
        if stage:
            raise FineTuningError(f"--init_from_stage={stage}: {flag} is a .keras file, which has no stages")
        return _keras_parent(given, path)
    raise FineTuningError(f"{flag}: {path} is not a run dir, a stage dir or a .keras file")


def _pick_stage(flag: str, path: str, stage: str | None) -> StageDir:
    """The stage dir ``path`` is, or the stage of the run dir ``path`` to start from."""
    if os.path.exists(os.path.join(path, MANIFEST_FILE)):
        stage_dir = StageDir(path)
        if stage and stage != stage_dir.name:
            raise FineTuningError(f"--init_from_stage={stage}: {flag} is the stage dir of stage '{stage_dir.name}'")
        return stage_dir
    run = RunDir(path)
    try:
        finished = run.complete_stages()
    except (OSError, ValueError) as error:  # a stage.json that is not JSON
        raise FineTuningError(f"{flag}: a stage manifest in {path} is unreadable ({error})") from None
    if stage:
        if stage in finished or os.path.exists(run.stage(stage).manifest_path):
            return run.stage(stage)  # an unfinished one is refused by _stage_parent, naming what it lacks
        raise FineTuningError(
            f"--init_from_stage={stage}: not a stage of {flag} (finished: {', '.join(finished) or 'none'})"
        )
    if finished:  # the most finished: furthest along the schedule, then finished last (RunDir.complete_stages)
        return list(finished.values())[-1]
    started = sorted(n for n in os.listdir(path) if os.path.exists(os.path.join(path, n, MANIFEST_FILE)))
    if started:
        raise FineTuningError(
            f"{flag}: no finished stage in {path} (started, not finished: {', '.join(started)}). Finish one first "
            f"(rsn-train --model_dir={path}), or give a finished run."
        )
    raise FineTuningError(
        f"{flag}: {path} is neither a run dir (no stage dir in it has a {MANIFEST_FILE}) nor a stage dir. Give an "
        "rsn-train --model_dir, one of its stage dirs, or a .keras file."
    )


def _read_json(flag: str, path: str) -> Any:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError) as error:
        raise FineTuningError(f"{flag}: {path} is unreadable ({error.__class__.__name__}: {error})") from None


def _check_weights(flag: str, path: str, data: bytes | None = None, where: str = "") -> None:
    """Read every array of a Keras .weights.h5 (``data``: its bytes), so a truncated file fails here."""
    import h5py

    arrays = 0
    try:
        with h5py.File(io.BytesIO(data) if data is not None else path, "r") as weights:

            def read(_, item) -> None:
                nonlocal arrays
                if isinstance(item, h5py.Dataset):
                    item[()]
                    arrays += 1

            weights.visititems(read)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise FineTuningError(
            f"{flag}: {path}{where} is not a readable weights file ({' '.join(str(error).split())[:200]}); it is "
            "probably truncated or corrupt. Copy it again, or train the parent again."
        ) from None
    if not arrays:
        raise FineTuningError(f"{flag}: {path}{where} holds no weights")


def _parent_dataset(flag: str, config_path: str) -> str | None:
    """``data.dataset`` of the parent's config.yaml (None when it has none)."""
    if not os.path.exists(config_path):
        return None
    try:
        data = config_lib.load_file(config_path)
    except config_lib.ConfigError as error:
        raise FineTuningError(f"{flag}: {config_path} is unreadable ({error})") from None
    dataset = (data.get("data") or {}).get("dataset")
    return str(dataset) if dataset is not None else None


def _stage_parent(given: str, stage_dir: StageDir) -> Parent:
    flag = f"--init_from={given}"
    manifest = _read_json(flag, stage_dir.manifest_path) if os.path.exists(stage_dir.manifest_path) else {}
    if not isinstance(manifest, dict) or not manifest.get("complete"):
        raise FineTuningError(
            f"{flag}: stage '{stage_dir.name}' ({stage_dir.path}) has not finished: its {MANIFEST_FILE} does not say "
            "complete. Finish it, or give a finished stage."
        )
    weights = [stage_dir.weights_path(m) for m in MODULES]
    for path in (stage_dir.model_config_path, *weights):
        if not os.path.isfile(path):
            raise FineTuningError(f"{flag}: {path} is missing, so the stage holds no usable model")
    model_config = _read_json(flag, stage_dir.model_config_path)
    if not isinstance(model_config, dict):
        raise FineTuningError(f"{flag}: {stage_dir.model_config_path} does not hold a model config")
    for path in weights:
        _check_weights(flag, path)
    return Parent(
        given=given,
        path=os.path.abspath(stage_dir.path),
        kind="stage",
        stage=stage_dir.name,
        dataset=_parent_dataset(flag, stage_dir.config_path),
        sha256=parent_sha256(stage_dir.path),
        model_config=model_config,
        manifest=manifest,
    )


def _keras_parent(given: str, path: str) -> Parent:
    flag = f"--init_from={given}"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = set(archive.namelist())
            if bad is None:
                missing = [n for n in ("config.json", KERAS_WEIGHTS_MEMBER) if n not in names]
                if missing:
                    raise FineTuningError(f"{flag}: {path} is no Keras model file: it lacks {', '.join(missing)}")
                document = json.loads(archive.read("config.json"))
                weights = archive.read(KERAS_WEIGHTS_MEMBER)
    except FineTuningError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise FineTuningError(
            f"{flag}: {path} is not a readable .keras file ({error}); it is probably truncated or corrupt. "
            "Save or copy it again."
        ) from None
    if bad is not None:
        raise FineTuningError(
            f"{flag}: {path} is corrupt: its member {bad} fails its CRC check. Save or copy it again."
        )
    if not isinstance(document, dict) or document.get("class_name") != "RegionSupportNetwork":
        found = document.get("class_name") if isinstance(document, dict) else type(document).__name__
        raise FineTuningError(f"{flag}: {path} holds a {found}, not a RegionSupportNetwork")
    model_config = (document.get("config") or {}).get("config")
    if not isinstance(model_config, dict):
        raise FineTuningError(f"{flag}: {path}: its config.json has no RSNConfig (config.config)")
    _check_weights(flag, path, weights, where=f" ({KERAS_WEIGHTS_MEMBER})")
    return Parent(
        given=given,
        path=path,
        kind="keras",
        stage=None,
        dataset=None,
        sha256=hashlib.sha256(weights).hexdigest(),
        model_config=model_config,
        manifest={},
    )


def parent_sha256(path: str) -> str:
    """The parent's hash (the module docstring): a stage dir's two weight files, or a .keras file's weights."""
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as archive:
            return hashlib.sha256(archive.read(KERAS_WEIGHTS_MEMBER)).hexdigest()
    digest = hashlib.sha256()
    for module in MODULES:
        with open(StageDir(path).weights_path(module), "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def with_parent(config: config_lib.ExperimentConfig) -> tuple[config_lib.ExperimentConfig, Parent | None]:
    """``config`` with its parent recorded (``Parent.record``), and the parent; ``(config, None)`` without one.

    The recorded keys given already (a replayed config.yaml, or flags) must match the parent found.
    """
    model = config.model
    recorded = {k: getattr(model, k) for k in ("init_from_stage", "init_from_dataset", "init_from_sha256")}
    if not model.init_from:
        given = [k for k, v in recorded.items() if v]
        if given:
            raise FineTuningError(
                f"--{given[0]}={recorded[given[0]]} is given without --init_from, the parent it describes"
            )
        return config, None
    if model.resnet34_weights:
        raise FineTuningError(
            f"--init_from={model.init_from} and --resnet34_weights={model.resnet34_weights}: the parent's weights "
            "replace the ImageNet ones, so give one of them"
        )
    parent = resolve_parent(model.init_from, recorded["init_from_stage"] or None)
    if recorded["init_from_dataset"] and recorded["init_from_dataset"] != parent.dataset:
        raise FineTuningError(
            f"{parent.flag}: the parent was trained on {parent.dataset or 'an unknown dataset'}, but the config "
            f"records {recorded['init_from_dataset']} (model.init_from_dataset): it is another parent"
        )
    if recorded["init_from_sha256"] and recorded["init_from_sha256"] != parent.sha256:
        raise FineTuningError(
            f"{parent.flag}: its weights hash to {parent.sha256}, but the config records "
            f"{recorded['init_from_sha256']} (model.init_from_sha256): the parent changed since that run started. "
            "Give the parent the config names, or drop the init_from_* keys to start from this one."
        )
    return config_lib.override(config, parent.record()), parent


# ------------------------------------------------------------------ checks


def _shown(value: Any) -> str:
    return str(list(value)) if isinstance(value, (list, tuple)) else str(value)


def check_fits(parent: Parent, here: dict[str, Any], preset: str | None = None) -> None:
    """Refuse (FineTuningError) a parent whose model differs from ``here`` (an RSNConfig as a dict)
    in any field that shapes the network, naming each field and both values."""
    from rsn_tf.models import PRESETS, RSNConfig

    try:
        there = RSNConfig.from_dict(parent.model_config).to_dict()
    except (TypeError, ValueError) as error:
        raise FineTuningError(f"{parent.flag}: its model config is not an RSNConfig ({error})") from None
    skip = set(_NOT_COMPARED) - (set(_SEMANTIC_FIELDS) if here.get("guidance") == "semantic" else set())
    differences = [
        f"{key} is {_shown(there.get(key))} in the parent but {_shown(value)} here"
        for key, value in here.items()
        if key not in skip and _shown(there.get(key)) != _shown(value)
    ]
    if not differences:
        return
    name = there.get("name")
    fix = (
        f"Fine-tune with the parent's preset (--preset={name}), or give a parent of this one."
        if name in PRESETS and name != preset
        else "Give a parent trained with this run's preset."
    )
    raise FineTuningError(
        f"{parent.flag}: {'; '.join(differences)}. Its weights fit only the same network"
        + (f" (--preset={preset} here)" if preset else "")
        + f". {fix}"
    )


def check_freeze(stage: StageSpec, freeze: str) -> None:
    """Refuse a --freeze that would leave the stage nothing to train."""
    if freeze in (None, "", "none"):
        return
    if freeze not in MODULES:
        raise FineTuningError(f"--freeze={freeze}: expected none, {' or '.join(MODULES)}")
    trains = {
        "generation": not (stage.freeze_generation or stage.teacher_forcing),
        "refinement": not (stage.freeze_refinement or stage.generation_only),
    }
    other = next(m for m in MODULES if m != freeze)
    if not trains[other]:
        raise FineTuningError(
            f"--freeze={freeze} with --stage={stage.name}: the stage trains only the {freeze} module, so nothing "
            "would train. Freeze the other module, or pick a stage that trains both (e.g. --stage=joint)."
        )


# ------------------------------------------------------------------ loading


def _load_parent(model, parent: Parent) -> list[str]:
    check_fits(parent, model.config.to_dict())
    try:
        if parent.kind == "keras":
            model.load_weights(parent.path)
        else:
            for module in MODULES:
                getattr(model, module).load_weights(StageDir(parent.path).weights_path(module))
    except (OSError, ValueError, KeyError) as error:
        raise FineTuningError(
            f"{parent.flag}: its weights do not load into this network ({' '.join(str(error).split())[:300]})"
        ) from None
    messages = [
        f"Fine-tuning: starting from the parent {parent.describe()}: both modules, BatchNorm statistics included."
    ]
    if parent.manifest.get("teacher_forcing"):
        messages.append(
            f"WARNING: the parent stage '{parent.stage}' refined ground-truth region support (teacher forcing): "
            "its generation module was never trained."
        )
    if parent.manifest.get("generation_only"):
        messages.append(
            f"WARNING: the parent stage '{parent.stage}' trained the generation module alone: its refinement "
            "module was never trained."
        )
    return messages


def initialise(
    model, stage: StageSpec, run: RunDir, resnet34_weights: str | None = None, parent: Parent | None = None
) -> list[str]:
    """Load module weights into ``model``; returns the messages to print (warnings included).

    With a ``parent`` (--init_from), both modules come from it; otherwise from the stage's chaining.
    """
    if parent is not None:
        return _load_parent(model, parent)
    messages = []
    for module, sources in stage.init:
        for source in sources:
            earlier = run.stage(source)
            if earlier.complete:
                getattr(model, module).load_weights(earlier.weights_path(module))
                messages.append(f"{module}: initialised from stage '{source}' ({earlier.weights_path(module)})")
                break
        else:
            tried = ", ".join(run.stage(s).weights_path(module) for s in sources)
            messages.append(
                f"WARNING: no earlier-stage weights for the {module} module (looked for {tried}); "
                f"it starts from random initialisation instead. Run the earlier stages first "
                f"(--stage={sources[-1]}) or --stage=all for the paper's schedule."
            )
    generation_loaded = any(m.startswith("generation: initialised") for m in messages)
    if resnet34_weights and not generation_loaded and not stage.teacher_forcing:
        from rsn_tf.models.pretrained import load_resnet34_imagenet

        load_resnet34_imagenet(model.generation, resnet34_weights)
        messages.append(f"generation: trunk initialised from ImageNet ResNet34 ({resnet34_weights})")
    return messages
