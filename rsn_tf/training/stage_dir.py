"""Reading a finished stage dir back: the network it trained, with that stage's switches.

A stage dir (``<model_dir>/<stage>/`` of train.py, or one row of the ablation) holds
``model_config.json`` (the RSNConfig), ``stage.json`` (the StageSpec: generation_only,
teacher_forcing, ...) and ``generation.weights.h5`` / ``refinement.weights.h5``.
"""

from __future__ import annotations

import json
import os

__all__ = ["COMPLETE_STAGES", "read_stage", "load_stage_model", "find_stage_dirs"]

# Stages whose weights make a complete depth model (image in, depth out), most finished first:
# train.py's schedule and the ablation rows of the same kind.
COMPLETE_STAGES = ("joint", "end_to_end", "generation_frozen_refinement", "freeze_refinement",
                   "refine_frozen_generation", "freeze_generation", "generation")


def read_stage(stage_dir: str) -> dict:
    """The stage's switches from stage.json; runs older than stage.json are known by their dir name."""
    path = os.path.join(stage_dir, "stage.json")
    if os.path.exists(path):
        with open(path) as fh:
            return json.load(fh)
    name = os.path.basename(os.path.normpath(stage_dir))
    return {"name": name, "generation_only": name == "generation", "teacher_forcing": name == "refinement"}


def load_stage_model(stage_dir: str):
    """``(RegionSupportNetwork, stage dict)`` for a finished stage dir; FileNotFoundError names what is missing."""
    from rsn_tf.models import RegionSupportNetwork, RSNConfig

    config_path = os.path.join(stage_dir, "model_config.json")
    if not os.path.exists(config_path):
        raise FileNotFoundError(f"{stage_dir}: no model_config.json; the stage has not finished")
    with open(config_path) as fh:
        config = RSNConfig.from_dict(json.load(fh))
    stage = read_stage(stage_dir)
    model = RegionSupportNetwork(config, generation_only=bool(stage.get("generation_only")),
                                 teacher_forcing=bool(stage.get("teacher_forcing")))
    model.build()
    for module in ("generation", "refinement"):
        weights = os.path.join(stage_dir, f"{module}.weights.h5")
        if not os.path.exists(weights):
            raise FileNotFoundError(f"{weights}: missing; the stage did not finish")
        getattr(model, module).load_weights(weights)
    return model, stage


def find_stage_dirs(run_dir: str) -> dict[str, str]:
    """Stage name -> stage dir for every finished stage (model_config.json present) in a run dir."""
    if not os.path.isdir(run_dir):
        return {}
    return {
        name: os.path.join(run_dir, name) for name in sorted(os.listdir(run_dir))
        if os.path.exists(os.path.join(run_dir, name, "model_config.json"))
    }
