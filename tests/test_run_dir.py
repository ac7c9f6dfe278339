"""rsn_tf.run_dir: the stage manifest decides completeness and which stage is the most finished."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

from rsn_tf.run_dir import RunDir, RunDirError, StageDir
from rsn_tf.schedule import STAGES

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_model():
    from rsn_tf.models import RegionSupportNetwork, get_preset

    model = RegionSupportNetwork(get_preset("tiny", height=24, width=32))
    model.build()
    return model


def test_a_stage_is_complete_only_once_its_manifest_says_so(tmp_path, tiny_model):
    stage = RunDir(str(tmp_path)).stage("joint")
    stage.write_started(STAGES["joint"].to_dict())
    assert not stage.complete and RunDir(str(tmp_path)).complete_stages() == {}
    with pytest.raises(RunDirError, match="has not finished"):
        stage.load_model()
    stage.write_model(tiny_model, STAGES["joint"].to_dict())
    manifest = json.loads(open(stage.manifest_path).read())
    assert manifest["complete"] is True and manifest["format_version"] == 2 and manifest["schedule_rank"] == 4
    model, loaded_manifest = stage.load_model()
    assert loaded_manifest["name"] == "joint" and not model.teacher_forcing
    for a, b in zip(model.get_weights(), tiny_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # A weights file lost after the fact makes the stage incomplete again, whatever the manifest says.
    os.remove(stage.weights_path("refinement"))
    assert not stage.complete


def test_most_finished_follows_the_schedule_rank_then_the_finish_time(tmp_path, tiny_model):
    run = RunDir(str(tmp_path))
    for name in ("generation", "refinement", "refine_frozen_generation"):
        run.stage(name).write_model(tiny_model, STAGES[name].to_dict())
    assert run.most_finished().name == "refine_frozen_generation"
    # refinement (rank 1) is teacher-forced: never chosen to serve, but chosen when asked for any stage.
    run.stage("refine_frozen_generation").write_started(STAGES["refine_frozen_generation"].to_dict())
    assert run.most_finished(serves_images=True).name == "generation"
    assert run.most_finished(serves_images=False).name == "refinement"
    with pytest.raises(RunDirError, match="teacher forcing"):
        run.select_stage("refinement", serves_images=True)
    with pytest.raises(RunDirError, match=r"--stage=joint: not a finished stage .*finished: generation, refinement"):
        run.select_stage("joint")
    # A stage of an ablation run with the same rank: the one finished last wins.
    spec = dict(STAGES["generation"].to_dict(), name="baseline1")
    run.stage("baseline1").write_model(tiny_model, spec)
    assert run.most_finished().name == "baseline1"


def test_figure_columns_come_from_the_manifests(tmp_path, tiny_model):
    run = RunDir(str(tmp_path))
    for name in ("generation", "refinement", "joint"):
        run.stage(name).write_model(tiny_model, STAGES[name].to_dict())
    columns = {label: stage.name for label, stage in run.figure_columns().items()}
    assert columns == {
        "Generation module": "generation",
        "Refinement (GT region support)": "refinement",
        "RSN": "joint",
    }


def test_a_stage_dir_written_before_manifests_had_a_version_is_not_loaded(tmp_path, tiny_model):
    legacy = StageDir(str(tmp_path / "refinement"))
    os.makedirs(legacy.path)
    for module in ("generation", "refinement"):
        getattr(tiny_model, module).save_weights(legacy.weights_path(module))
    with open(legacy.model_config_path, "w") as fh:
        json.dump(tiny_model.config.to_dict(), fh)
    assert not legacy.complete  # no manifest: not a stage
    version_1 = {
        "name": "refinement",
        "summary": "",
        "loss": "iterative",
        "generation_only": False,
        "teacher_forcing": True,
    }
    with open(legacy.manifest_path, "w") as fh:
        json.dump(version_1, fh)
    assert not legacy.complete  # a version-1 manifest never says complete: such stages are no longer read
    with pytest.raises(RunDirError, match="has not finished"):
        legacy.load_model()


def test_stage_dir_file_names_and_the_stage_list_are_defined_in_one_module_each():
    """What the issue asks `git grep` to show: the file names only in run_dir.py, the stage list in stages.py."""

    def grep(pattern: str) -> set[str]:
        out = subprocess.run(
            ["git", "grep", "-l", "-E", pattern, "--", "rsn_tf", "tfds_nyu", "train.py", "export.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if out.returncode not in (0, 1):
            pytest.skip(f"git grep is unavailable here: {out.stderr.strip()}")
        return set(out.stdout.split())

    for name in ("stage.json", "model_config.json", "weights.h5", "config.yaml"):
        assert grep(rf'"[^"]*{name}"') == {"rsn_tf/run_dir.py"}, name
    assert grep(r"STAGE_ORDER = ") == {"rsn_tf/schedule.py"}
    stage_names = ("refine_frozen_generation", "generation_frozen_refinement", "joint")
    for name in stage_names:
        assert grep(rf'"{name}"') == {"rsn_tf/schedule.py"}, name
