"""Which run a checkpoint belongs to, so that no process resumes from another run's checkpoints.

A stage's identity is a hash of the config keys that decide what its checkpoints mean (data,
model, optimizer, seed, the stage's switches), written beside the checkpoints as
``run_identity.json`` (``rsn_tf.run_dir``). Keys that may change between the invocations of one
run (a longer budget, other logging, another mount of the data, the number of devices) are not
part of it, so resuming with ``--epochs`` raised still works.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

from rsn_tf import config as config_lib
from rsn_tf.config import ExperimentConfig
from rsn_tf.errors import UserError
from rsn_tf.run_dir import StageDir

__all__ = ["RunIdentityError", "run_identity", "same_run", "describe", "check_resumable"]

# May differ between two invocations of the same run (see the module docstring).
_NOT_IDENTITY_PREFIXES = ("runtime.",)
_NOT_IDENTITY_KEYS = frozenset(
    {
        "task.stage",  # "all" or one stage: the stage's own switches are hashed instead
        "trainer.model_dir",
        "trainer.epochs",
        "trainer.checkpoint_every_steps",
        "trainer.keep_checkpoints",
        "trainer.log_every_steps",
        "trainer.image_summaries",
        "trainer.inject_nan_at_step",
        "trainer.export",
        "trainer.export_base",
        "data.data_dir",
        "data.manual_dir",
        "data.dataset_wait_timeout_s",
        "data.cache",  # where decoded examples are kept, not what they are
        "data.eval_split",
        "data.eval_batches",
    }
)
# Keys added after run identities were first written: left out while they hold their default (the
# config's), so a run started before they existed keeps its hash and still resumes.
_LATER_KEYS = ("task.freeze", "model.init_from", "model.init_from_stage", "model.init_from_dataset",
               "model.init_from_sha256", "data.train_split")  # fmt: skip
_LATER_KEYS_AT_DEFAULT = {k: config_lib.flatten(config_lib.to_dict(ExperimentConfig()))[k] for k in _LATER_KEYS}


class RunIdentityError(UserError, RuntimeError):
    """The stage dir holds checkpoints of another run; the message names both."""


def run_identity(config: ExperimentConfig, stage: dict[str, Any]) -> dict[str, Any]:
    """The identity of one stage of the run ``config`` describes (``stage``: its StageSpec as a dict)."""
    keys = {
        key: value
        for key, value in config_lib.flatten(config_lib.to_dict(config)).items()
        if key not in _NOT_IDENTITY_KEYS
        and not key.startswith(_NOT_IDENTITY_PREFIXES)
        and not (key in _LATER_KEYS_AT_DEFAULT and value == _LATER_KEYS_AT_DEFAULT[key])
    }
    keys = {**keys, **{f"stage.{k}": v for k, v in stage.items()}}
    digest = hashlib.sha256(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return {
        "config_hash": digest,
        "model_dir": os.path.abspath(config.trainer.model_dir),
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "keys": keys,
    }


def same_run(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return a is not None and b is not None and a.get("config_hash") == b.get("config_hash")


def describe(identity: dict[str, Any]) -> str:
    """One run in words: its hash, run dir and start."""
    return f"run {identity.get('config_hash')} (--model_dir={identity.get('model_dir')}, {identity.get('written_at')})"


def _differences(a: dict[str, Any], b: dict[str, Any], limit: int = 6) -> str:
    ka, kb = a.get("keys", {}), b.get("keys", {})
    changed = [
        f"{k}: {ka.get(k)!r} there, {kb.get(k)!r} here" for k in sorted(set(ka) | set(kb)) if ka.get(k) != kb.get(k)
    ]
    more = f"; and {len(changed) - limit} more" if len(changed) > limit else ""
    return "; ".join(changed[:limit]) + more


def check_resumable(stage_dir: StageDir, identity: dict[str, Any]) -> str | None:
    """Refuse (RunIdentityError) when ``stage_dir`` holds another run's checkpoints.

    Returns a note to print when the checkpoints carry no identity (written by an earlier
    RSN-TF); they are then taken as this run's.
    """
    latest = stage_dir.latest_checkpoint()
    if latest is None:
        return None
    found = stage_dir.read_identity()
    if found is None:
        return f"Note: {stage_dir.identity_path} is missing (checkpoints of an earlier RSN-TF); resuming from them."
    if same_run(found, identity):
        return None
    raise RunIdentityError(
        f"{latest} belongs to another run: {describe(found)}; this is {describe(identity)}. They differ in "
        f"{_differences(found, identity)}. A stage resumes only from its own run's checkpoints. Use a new "
        f"--model_dir, or continue that run with its own config (rsn-train --config={stage_dir.config_path}), or "
        f"remove {stage_dir.path}/ckpt-* and {stage_dir.path}/checkpoint to start the stage again."
    )
