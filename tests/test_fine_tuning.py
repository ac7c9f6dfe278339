"""Fine-tuning: ``rsn-train --init_from`` (a run dir, a stage dir or a .keras file) and ``--freeze``.

Every run is rsn-train called in this process on the shared mini dataset. The parent is the shared
tiny run (read only) or a model built here. The references are computed here, independently of
the code under test: the parent's weight files read by Keras (or the values assigned before
saving), and the parent's hash with hashlib over the files' bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import zipfile

import numpy as np
import pytest
import yaml
from conftest import REAL_SEQUENCE, SHARED_DATASET, tiny_train_argv, train_in_process

MODULES = ("generation", "refinement")
PARENT_STAGE = "joint"  # the most finished stage of the tiny run: the last of the paper's schedule


def _file_sha256(*paths) -> str:
    """SHA-256 of the files' bytes, one after the other (docs/training.md: the parent's hash)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()


def _fresh_tiny():
    from rsn_tf.models import RegionSupportNetwork, get_preset

    model = RegionSupportNetwork(get_preset("tiny"))
    model.build()
    return model


def _variables(model) -> dict[tuple[str, int], tuple[str, np.ndarray]]:
    """(module, index) -> (variable path, value) for every variable, BatchNorm statistics included."""
    return {
        (module, i): (v.path, np.array(v.numpy()))
        for module in MODULES
        for i, v in enumerate(getattr(model, module).weights)
    }


def _stage_weights(stage_dir) -> dict[tuple[str, int], tuple[str, np.ndarray]]:
    """A stage dir's two weight files, loaded by Keras into a fresh tiny network."""
    model = _fresh_tiny()
    for module in MODULES:
        getattr(model, module).load_weights(str(stage_dir / f"{module}.weights.h5"))
    return _variables(model)


def _h5_arrays(path) -> dict[str, np.ndarray]:
    """Every array of a .weights.h5 file by its HDF5 name (h5py, not Keras)."""
    import h5py

    out = {}
    with h5py.File(path, "r") as fh:
        fh.visititems(lambda name, item: out.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return out


def _train_frames(data_dir: str) -> int:
    import tensorflow_datasets as tfds

    import tfds_nyu  # noqa: F401  (registers the builders)

    return tfds.builder(SHARED_DATASET, data_dir=data_dir).info.splits["train"].num_examples


@pytest.fixture(scope="module")
def child(tiny_run, mini_data_dir, tmp_path_factory):
    """A run fine-tuned from the tiny run dir with 0 steps (so its weights are what it started from), exported."""
    root = tmp_path_factory.mktemp("fine_tuned")
    argv = tiny_train_argv(
        mini_data_dir,
        root / "run",
        f"--init_from={tiny_run}",
        "--stage=joint",
        "--epochs=0",
        "--export=true",
        f"--export_base={root / 'export'}",
    )
    code, out, err = train_in_process(argv)
    assert code == 0, err[-3000:]
    return {"run": root / "run", "export": root / "export", "out": out}


@pytest.fixture(scope="module")
def untrained_parent(tmp_path_factory) -> pathlib.Path:
    """A run dir whose one complete stage (joint) holds an untrained tiny model, written by the
    trainer's own stage writer: what the refusals below need, without training a run first."""
    from rsn_tf.run_dir import RunDir
    from rsn_tf.schedule import get_stage
    from rsn_tf.training.trainer import weights_digest

    run = tmp_path_factory.mktemp("untrained_parent") / "run"
    model = _fresh_tiny()
    RunDir(str(run)).stage(PARENT_STAGE).write_model(
        model, {**get_stage(PARENT_STAGE).to_dict(), "weights_sha256": weights_digest(model)}
    )
    return run


def _frozen_argv(data_dir, model_dir, parent, frozen: str) -> list[str]:
    return tiny_train_argv(
        data_dir,
        model_dir,
        f"--init_from={parent}",
        "--stage=joint",
        f"--freeze={frozen}",
        "--epochs=1",
        "--steps_per_epoch=2",
        "--checkpoint_every_steps=100",
    )


@pytest.fixture(scope="module")
def frozen_runs(tiny_run, mini_data_dir, tmp_path_factory):
    """frozen module -> a run fine-tuned from the tiny run for 2 steps with that module frozen (built on first use)."""
    built: dict[str, object] = {}

    def get(frozen: str):
        if frozen not in built:
            model_dir = tmp_path_factory.mktemp(f"frozen_{frozen}") / "run"
            code, _, err = train_in_process(_frozen_argv(mini_data_dir, model_dir, tiny_run, frozen))
            assert code == 0, err[-3000:]
            built[frozen] = model_dir
        return built[frozen]

    return get


# ------------------------------------------------------------------ the weights it starts from


@pytest.mark.slow
def test_init_from_a_run_dir_starts_from_exactly_its_most_finished_stages_weights(child, tiny_run, mini_data_dir):
    parent = tiny_run / PARENT_STAGE
    for module in MODULES:  # every array of both weight files, bit for bit (h5py, not Keras)
        expected = _h5_arrays(parent / f"{module}.weights.h5")
        got = _h5_arrays(child["run"] / "joint" / f"{module}.weights.h5")
        assert expected.keys() == got.keys() and len(got) > 20, module
        for name, value in expected.items():
            assert got[name].dtype == value.dtype and np.array_equal(got[name], value), f"{module}: {name}"
    # The same through Keras: BatchNorm moving statistics are among them, and they are trained values.
    expected, got = _stage_weights(parent), _stage_weights(child["run"] / "joint")
    moving = [key for key, (path, _) in expected.items() if "moving_" in path]
    assert len(moving) > 10
    assert any(not np.allclose(expected[k][1], 0.0) for k in moving if "moving_mean" in expected[k][0])
    for key, (path, value) in expected.items():
        assert got[key][0].split("/")[-1] == path.split("/")[-1]
        np.testing.assert_array_equal(got[key][1], value, err_msg=path)
    # A fresh network (what the stage would start from without --init_from) differs.
    fresh = _variables(_fresh_tiny())
    assert any(not np.array_equal(fresh[k][1], v) for k, (_, v) in expected.items())
    # It says so: where it starts from, and how many frames and steps it used, one line each.
    lines = child["out"].splitlines()
    start = [line for line in lines if line.startswith("Fine-tuning: starting from the parent ")]
    assert len(start) == 1 and f"the parent {parent} (stage 'joint', trained on {SHARED_DATASET};" in start[0]
    data = [line for line in lines if line.strip().startswith("Data: ")]
    assert len(data) == 1
    expected = f"Data: {_train_frames(mini_data_dir)} training frames (train) of {SHARED_DATASET}; 0 steps"
    assert data[0].strip().startswith(expected)


@pytest.mark.slow
def test_init_from_a_keras_file_starts_from_exactly_its_weights(mini_data_dir, tmp_path):
    model = _fresh_tiny()
    rng = np.random.default_rng(7)
    for variable in model.weights:  # values no initialiser gives, BatchNorm statistics included
        value = variable.numpy()
        noise = rng.uniform(0.9, 1.1, value.shape) if "moving_variance" in variable.path else 1.0
        variable.assign((value * noise + rng.normal(0.0, 0.01, value.shape)).astype(value.dtype))
    expected = _variables(model)
    path = tmp_path / "parent.keras"
    model.save(str(path))

    argv = tiny_train_argv(mini_data_dir, tmp_path / "run", f"--init_from={path}", "--stage=joint", "--epochs=0")
    code, out, err = train_in_process(argv)
    assert code == 0, err[-3000:]
    got = _stage_weights(tmp_path / "run" / "joint")
    assert got.keys() == expected.keys()
    for key, (name, value) in expected.items():
        np.testing.assert_array_equal(got[key][1], value, err_msg=name)
    # Recorded: the file, no stage or dataset (a .keras file has neither), and the hash of its weights member.
    with zipfile.ZipFile(path) as archive:
        sha = hashlib.sha256(archive.read("model.weights.h5")).hexdigest()
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["model"]
    assert saved["init_from"] == str(path) and saved["init_from_sha256"] == sha
    assert saved["init_from_stage"] is None and saved["init_from_dataset"] is None
    assert f"Fine-tuning: starting from the parent {path} (a .keras file" in out


# ------------------------------------------------------------------ freezing


@pytest.mark.slow
@pytest.mark.parametrize("frozen", MODULES)
def test_freeze_keeps_the_frozen_module_and_its_batchnorm_statistics_bit_identical(frozen, frozen_runs, tiny_run):
    child = frozen_runs(frozen)
    assert (child / "joint" / "ckpt-2.index").exists()  # it trained its 2 steps
    parent, after = _stage_weights(tiny_run / PARENT_STAGE), _stage_weights(child / "joint")
    trained = next(m for m in MODULES if m != frozen)
    for key, (path, value) in parent.items():
        if key[0] == frozen:
            np.testing.assert_array_equal(after[key][1], value, err_msg=f"frozen {path} changed")
    # The other module trained: kernels and its BatchNorm statistics moved.
    moved = [
        path for key, (path, value) in parent.items() if key[0] == trained and not np.array_equal(after[key][1], value)
    ]
    assert any("kernel" in p for p in moved), f"no {trained} kernel changed"
    assert any("moving_mean" in p for p in moved) and any("moving_variance" in p for p in moved), moved[:5]
    frozen_stats = [path for key, (path, _) in parent.items() if key[0] == frozen and "moving_" in path]
    assert len(frozen_stats) > 4  # the frozen module has BatchNorm statistics to keep
    saved = yaml.safe_load((child / "config.yaml").read_text())
    assert saved["task"]["freeze"] == frozen


@pytest.mark.slow
def test_a_fine_tuning_run_resumes_from_its_own_checkpoint_and_refuses_another_parent(
    frozen_runs, tiny_run, mini_data_dir, tmp_path
):
    model_dir = tmp_path / "run"
    shutil.copytree(frozen_runs("generation"), model_dir)
    before = _stage_weights(model_dir / "joint")
    argv = _frozen_argv(mini_data_dir, model_dir, tiny_run, "generation")

    # Another parent (another stage of the same run) is another run: its checkpoints are refused.
    other = [a for a in argv if not a.startswith("--init_from=")] + [
        f"--init_from={tiny_run / 'generation_frozen_refinement'}"
    ]
    code, _, err = train_in_process(other)
    assert code == 2 and "belongs to another run" in err and "model.init_from_sha256" in err, err[-2000:]
    assert "Traceback" not in err

    # The same command again resumes from the run's own checkpoint: the parent is not loaded again.
    code, out, err = train_in_process(argv)
    assert code == 0, err[-3000:]
    assert f"Resuming stage 'joint' from {model_dir / 'joint'}/ckpt-2 at step 2." in out
    assert "Fine-tuning: starting from the parent" not in out and "is not loaded again" in out
    after, parent = _stage_weights(model_dir / "joint"), _stage_weights(tiny_run / PARENT_STAGE)
    for key, (path, value) in before.items():
        np.testing.assert_array_equal(after[key][1], value, err_msg=path)
    assert any(not np.array_equal(after[k][1], v) for k, (_, v) in parent.items() if k[0] == "refinement")


# ------------------------------------------------------------------ what is refused, before any work


def _refused(argv, model_dir, data_dir) -> str:
    code, out, err = train_in_process(argv)
    assert code == 2, err[-2000:]
    assert "Traceback" not in err and "Stage '" not in out
    assert not os.path.exists(model_dir), "the run dir was created"
    assert not os.path.exists(data_dir), "a dataset was built"
    return err


@pytest.mark.slow
def test_a_parent_of_another_architecture_is_refused_naming_each_field_and_both_values(tiny_run, tmp_path):
    model_dir, data_dir = tmp_path / "run", tmp_path / "no_data"
    parent_config = json.loads((tiny_run / PARENT_STAGE / "model_config.json").read_text())
    err = _refused(
        tiny_train_argv(str(data_dir), model_dir, f"--init_from={tiny_run}", "--preset=small", "--epochs=1"),
        model_dir,
        data_dir,
    )
    assert f"--init_from={tiny_run}: " in err
    # The small preset: 240x320, width multiplier 0.25, two blocks per stage (docs/architecture.md).
    for field, here in (("height", 240), ("width", 320), ("width_multiplier", 0.25), ("blocks", [2, 2, 2, 2])):
        assert f"{field} is {parent_config[field]} in the parent but {here} here" in err, field
    assert "refinement_iterations" not in err  # the same in both presets: not named

    # A .keras parent of the small preset, into a tiny run.
    from rsn_tf.models import RegionSupportNetwork, get_preset

    small = RegionSupportNetwork(get_preset("small"))
    small.build()
    path = tmp_path / "small.keras"
    small.save(str(path))
    err = _refused(tiny_train_argv(str(data_dir), model_dir, f"--init_from={path}", "--epochs=1"), model_dir, data_dir)
    assert f"--init_from={path}: " in err
    assert "width_multiplier is 0.25 in the parent but 0.125 here" in err
    assert "height is 240 in the parent but 96 here" in err and "--preset=small" in err


def _truncate(path, keep: float = 0.5) -> None:
    data = open(path, "rb").read()
    with open(path, "wb") as fh:
        fh.write(data[: int(len(data) * keep)])


@pytest.mark.parametrize(
    "case", ["missing", "truncated_h5", "missing_h5", "unfinished", "no_stages", "truncated_keras", "garbage_keras"]
)
def test_a_missing_or_corrupt_parent_fails_before_any_work_naming_the_path(case, untrained_parent, tmp_path):
    parent = tmp_path / "parent"
    if case == "missing":
        named, message = parent, "no such file or directory"
    elif case in ("truncated_h5", "missing_h5", "unfinished"):
        shutil.copytree(untrained_parent / PARENT_STAGE, parent)
        if case == "truncated_h5":
            _truncate(parent / "generation.weights.h5")
            named, message = parent / "generation.weights.h5", "is not a readable weights file"
        elif case == "missing_h5":
            os.remove(parent / "refinement.weights.h5")
            named, message = parent / "refinement.weights.h5", "is missing"
        else:
            manifest = json.loads((parent / "stage.json").read_text())
            (parent / "stage.json").write_text(json.dumps({**manifest, "complete": False}))
            named, message = parent, "has not finished"
    elif case == "no_stages":
        (parent / "joint").mkdir(parents=True)
        named, message = parent, "is neither a run dir"
    else:
        parent = tmp_path / "parent.keras"
        if case == "truncated_keras":
            model = _fresh_tiny()
            model.save(str(parent))
            _truncate(parent, 0.6)
        else:
            parent.write_bytes(np.random.default_rng(0).bytes(4096))
        named, message = parent, "is not a readable .keras file"
    model_dir, data_dir = tmp_path / "run", tmp_path / "no_data"
    err = _refused(
        tiny_train_argv(str(data_dir), model_dir, f"--init_from={parent}", "--epochs=1"), model_dir, data_dir
    )
    assert f"--init_from={parent}: " in err and str(named) in err and message in err, err[-1500:]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--stage=all"], "fine-tuning trains one stage from the parent"),
        (["--stage=generation", "--freeze=generation"], "the stage trains only the generation module"),
        (["--init_from_sha256=0123abcd"], "the parent changed since that run started"),
        (["--init_from_stage=generation_frozen_refinement", "--init_from=PARENT/joint"], "is the stage dir of stage"),
    ],
)
def test_flags_that_cannot_be_honoured_are_refused_before_any_work(extra, message, untrained_parent, tmp_path):
    model_dir, data_dir = tmp_path / "run", tmp_path / "no_data"
    extra = [e.replace("PARENT", str(untrained_parent)) for e in extra]
    argv = tiny_train_argv(str(data_dir), model_dir, f"--init_from={untrained_parent}", "--epochs=1", *extra)
    assert message in _refused(argv, model_dir, data_dir)


# ------------------------------------------------------------------ what is recorded


@pytest.mark.slow
def test_the_parent_is_recorded_in_config_yaml_and_the_serving_bundle_with_its_hash(child, tiny_run, capsys):
    parent = tiny_run / PARENT_STAGE
    sha = _file_sha256(parent / "generation.weights.h5", parent / "refinement.weights.h5")
    expected = {
        "init_from": str(parent),
        "init_from_stage": "joint",
        "init_from_dataset": SHARED_DATASET,
        "init_from_sha256": sha,
    }
    for config_path in (child["run"] / "config.yaml", child["run"] / "joint" / "config.yaml"):
        saved = yaml.safe_load(config_path.read_text())
        assert {k: saved["model"][k] for k in expected} == expected, config_path
        assert saved["task"]["freeze"] == "none"
    # It is part of the run's identity, beside the checkpoints.
    identity = json.loads((child["run"] / "joint" / "run_identity.json").read_text())
    assert identity["keys"]["model.init_from_sha256"] == sha
    # The export at the end of the run says what the served model was fine-tuned from.
    version = child["export"] / "rsn" / "1"
    info = json.loads((version / "serving_info.json").read_text())
    assert info["training"]["fine_tuned_from"] == {
        "path": str(parent),
        "stage": "joint",
        "dataset": SHARED_DATASET,
        "weights_sha256": sha,
        "frozen": "none",
    }
    assert info["training"]["stage"] == "joint" and info["test_metrics"]["metrics"]
    card = (version / "model_card.md").read_text()
    assert (
        f"- Fine-tuned from: {parent} (stage joint, trained on {SHARED_DATASET}); parent weights sha256 {sha}" in card
    )
    # And the client's --info says so to whoever serves it.
    from rsn_tf.cli.serve_client import main as serve_client

    assert serve_client([f"--info={version}"]) == 0
    printed = capsys.readouterr().out
    assert f"Trained on: {SHARED_DATASET} (stage joint," in printed
    assert f"Fine-tuned from: {parent} (stage joint, trained on {SHARED_DATASET}; weights sha256 {sha[:16]}" in printed


KITCHEN = REAL_SEQUENCE


@pytest.mark.slow
def test_fine_tuning_on_a_handful_of_real_kitchen_frames_records_its_parent(tiny_run, tmp_path):
    """The user's path on real frames, straight from ../shared/data: 8 frames of the kitchen sequence
    (linked, not copied), the last 2 held out, built at 96x128, fine-tuned from the tiny run for 2 steps."""
    from rsn_tf.cli.build_dataset import main as build_dataset

    if not os.path.isdir(KITCHEN):
        pytest.skip(f"the shared real sequence is absent ({KITCHEN})")
    folder = tmp_path / "kitchen"
    stems = sorted(name[: -len(".png")] for name in os.listdir(os.path.join(KITCHEN, "rgb")))[:8]
    for sub in ("rgb", "depth"):
        (folder / sub).mkdir(parents=True)
        for stem in stems:
            os.symlink(os.path.join(KITCHEN, sub, f"{stem}.png"), folder / sub / f"{stem}.png")
    with open(os.path.join(KITCHEN, "cameras.json")) as fh:
        cameras = json.load(fh)
    (folder / "cameras.json").write_text(json.dumps({stem: cameras[stem] for stem in stems}))
    data_dir = tmp_path / "tfds"
    name = "rgbd_folder/kitchen_handful"
    assert (
        build_dataset(
            [
                f"--dataset={name}",
                f"--manual_dir={folder}",
                f"--data_dir={data_dir}",
                "--holdout_last=2",
                "--height=96",
                "--width=128",
            ]
        )
        == 0
    )
    model_dir = tmp_path / "fine_tuned"
    argv = tiny_train_argv(str(data_dir), model_dir, f"--init_from={tiny_run}", "--stage=joint", "--epochs=1")
    argv += [f"--dataset={name}", "--steps_per_epoch=2", "--batch_size=2"]  # later flags win
    code, out, err = train_in_process(argv)
    assert code == 0, err[-3000:]
    assert f"Data: 6 training frames (train) of {name}" in out  # 8 frames, the last 2 held out
    parent = tiny_run / PARENT_STAGE
    saved = yaml.safe_load((model_dir / "config.yaml").read_text())["model"]
    assert saved["init_from"] == str(parent) and saved["init_from_stage"] == PARENT_STAGE
    assert saved["init_from_dataset"] == SHARED_DATASET
    assert saved["init_from_sha256"] == _file_sha256(parent / "generation.weights.h5", parent / "refinement.weights.h5")
    assert json.loads((model_dir / "joint" / "metrics.json").read_text())["metrics"]["num_images"] == 2
