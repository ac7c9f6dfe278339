"""The experiment config: keys and types checked by name, precedence, files, and the CLI flags made from it."""

from __future__ import annotations

import json

import pytest

from rsn_tf import config as config_lib
from rsn_tf.cli import common
from rsn_tf.config import ConfigError, ExperimentConfig


def test_sections_follow_the_model_garden_layout_and_every_field_has_a_flag_and_help():
    assert list(config_lib.SECTIONS) == ["task", "data", "model", "optimizer", "trainer", "runtime"]
    fields = config_lib.config_fields()
    flag_names = list(common.define_config_flags(common.new_flag_values()))
    # Every key's leaf is its flag: "data.batch_size" is --batch_size, and no two keys share one.
    assert sorted(flag_names) == sorted(key.split(".", 1)[1] for key in fields)
    assert len(flag_names) == len(set(flag_names)), "two config fields share a flag"
    assert all(f.metadata["help"].endswith(".") for f in fields.values())
    # The flags the trainer always had are all there, under the same names.
    for flag in (
        "stage",
        "model_dir",
        "preset",
        "dataset",
        "data_dir",
        "manual_dir",
        "batch_size",
        "epochs",
        "steps_per_epoch",
        "linear_epochs",
        "optimizer",
        "learning_rate",
        "lr_schedule",
        "momentum",
        "clipnorm",
        "precision",
        "jit_compile",
        "checkpoint_every_steps",
        "keep_checkpoints",
        "log_every_steps",
        "image_summaries",
        "eval_batches",
        "resnet34_weights",
        "cpu_devices",
        "seed",
        "augment_scale",
        "augment_flip",
        "color_jitter",
        "inject_nan_at_step",
        "export",
        "export_base",
        "dataset_wait_timeout_s",
        "worker_heartbeat_timeout_s",
        "collective_timeout_s",
        "lr_step_every_epochs",
    ):
        assert flag in flag_names, flag


@pytest.mark.parametrize(
    "data, message",
    [
        ({"trainer": {"epoch": 3}}, "unknown config key 'trainer.epoch' (did you mean 'trainer.epochs'?)"),
        ({"optimiser": {"name": "sgd"}}, "unknown config key 'optimiser' (did you mean 'optimizer'?)"),
        ({"data": {"batch_size": "8"}}, "config key 'data.batch_size': expected int, got str '8'"),
        ({"data": {"batch_size": 8.5}}, "config key 'data.batch_size': expected int, got float 8.5"),
        ({"runtime": {"jit_compile": 1}}, "config key 'runtime.jit_compile': expected bool, got int 1"),
        (
            {"optimizer": {"optimizer": "rmsprop"}},
            "config key 'optimizer.optimizer': expected one of 'sgd', 'momentum', 'adam'",
        ),
        ({"trainer": 5}, "config key 'trainer' is a section: expected a mapping"),
    ],
)
def test_unknown_keys_and_wrong_types_name_the_key(data, message):
    with pytest.raises(ConfigError) as error:
        config_lib.from_dict(data)
    assert message in str(error.value)


def test_values_convert_only_where_nothing_is_lost():
    config = config_lib.from_dict({"optimizer": {"learning_rate": 1, "clipnorm": None}, "data": {"eval_batches": 2}})
    assert config.optimizer.learning_rate == 1.0 and isinstance(config.optimizer.learning_rate, float)
    assert config.optimizer.clipnorm is None and config.data.eval_batches == 2


def test_precedence_defaults_preset_file_flags():
    # No file, no flags: the tiny preset's own optimizer and epochs (the one per-preset table).
    tiny = config_lib.resolve()
    assert (tiny.model.preset, tiny.optimizer.optimizer, tiny.optimizer.learning_rate, tiny.trainer.epochs) == (
        "tiny",
        "adam",
        3e-3,
        12,
    )
    # A file picks the paper preset: its defaults apply where the file is silent.
    paper = config_lib.resolve({"model": {"preset": "paper"}, "trainer": {"epochs": 5}})
    assert (paper.optimizer.optimizer, paper.optimizer.lr_schedule, paper.trainer.epochs) == ("sgd", "constant", 5)
    # Flags beat the file, and a preset given as a flag beats the file's.
    flagged = config_lib.resolve(
        {"model": {"preset": "paper"}, "trainer": {"epochs": 5}}, {"trainer.epochs": 7, "model.preset": "tiny"}
    )
    assert (flagged.model.preset, flagged.optimizer.optimizer, flagged.trainer.epochs) == ("tiny", "adam", 7)
    # The ablation's budget is its own column of the same table.
    assert config_lib.resolve(purpose="ablation").trainer.epochs == 8
    with pytest.raises(ConfigError, match="'model.preset': unknown preset 'huge'"):
        config_lib.resolve(flag_values={"model.preset": "huge"})


def test_a_run_with_a_parent_takes_the_fine_tuning_defaults_unless_it_says_otherwise():
    # tiny, fine-tuning (BENCHMARKS.md "Fine-tuning defaults"): Adam at 1e-3, cosine, 20 epochs.
    tuned = config_lib.resolve(flag_values={"model.init_from": "runs/rsn"})
    assert (tuned.optimizer.optimizer, tuned.optimizer.learning_rate, tuned.trainer.epochs) == ("adam", 1e-3, 20)
    assert tuned.optimizer.lr_schedule == "cosine" and tuned.task.stage == "joint"
    # A parent named in a file counts too; a file's or a flag's own value wins over the defaults.
    from_file = config_lib.resolve({"model": {"init_from": "runs/rsn"}, "trainer": {"epochs": 5}})
    assert (from_file.optimizer.learning_rate, from_file.trainer.epochs) == (1e-3, 5)
    flagged = config_lib.resolve(flag_values={"model.init_from": "runs/rsn", "optimizer.learning_rate": 3e-4})
    assert (flagged.optimizer.learning_rate, flagged.trainer.epochs) == (3e-4, 20)
    # Presets with no measured fine-tuning defaults keep their own; no parent, no change.
    paper = config_lib.resolve(flag_values={"model.init_from": "runs/rsn", "model.preset": "paper"})
    assert (paper.optimizer.optimizer, paper.optimizer.learning_rate, paper.trainer.epochs) == ("sgd", 1e-3, 40)
    assert (config_lib.resolve().optimizer.learning_rate, config_lib.resolve().trainer.epochs) == (3e-3, 12)
    # The Table 3 runner never fine-tunes: its budget is its own.
    assert config_lib.resolve(flag_values={"model.init_from": "x"}, purpose="ablation").trainer.epochs == 8


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_saved_config_loads_back_equal(tmp_path, suffix):
    config = config_lib.override(ExperimentConfig(), {"trainer.epochs": 3, "data.data_dir": "/d", "task.stage": "all"})
    path = config_lib.save_file(config, str(tmp_path / f"config{suffix}"))
    assert config_lib.from_dict(config_lib.load_file(path)) == config
    if suffix == ".json":
        assert json.loads(open(path).read())["trainer"]["epochs"] == 3


def test_bad_config_files_are_named(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("trainer: [epochs: 3\n")
    with pytest.raises(ConfigError, match=f"--config={broken}: not valid YAML"):
        config_lib.load_file(str(broken))
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        config_lib.load_file(str(listing))
    with pytest.raises(ConfigError, match="no such file"):
        config_lib.load_file(str(tmp_path / "missing.yaml"))


def test_flags_override_the_config_file_only_when_given(tmp_path):
    flag_values = common.new_flag_values()
    mapping = common.define_config_flags(flag_values)
    path = config_lib.save_file(config_lib.from_dict({"trainer": {"epochs": 3, "seed": 9}}), str(tmp_path / "c.yaml"))
    flag_values(["prog", f"--config={path}", "--seed=4", "--noaugment_flip"])
    config = common.config_from_flags(flag_values, mapping)
    assert config.trainer.epochs == 3  # from the file: --epochs was not given
    assert config.trainer.seed == 4 and config.data.augment_flip is False  # the flags given win
    assert config.data.batch_size == 8  # neither: the default


def test_the_trainer_cli_names_a_bad_key_in_a_config_file_and_exits_2(tmp_path, capsys):
    from rsn_tf.cli.train import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  epochz: 3\n")
    assert main([f"--config={bad}"]) == 2
    assert "unknown config key 'trainer.epochz' (did you mean 'trainer.epochs'?)" in capsys.readouterr().err
    assert main(["--epochs=three"]) == 2
    assert "--epochs" in capsys.readouterr().err


# What an earlier RSN-TF wrote (the key names of docs/ablation/*/config.yaml), and what each is now.
OLD_CONFIG = """\
data:
  dataset: nyu_region_support/synthetic_hard
  build_wait_s: 120.0
optimizer:
  name: momentum
  learning_rate: 0.003
  schedule: step
  step_every_epochs: 4
trainer:
  seed: 2
"""


def test_an_earlier_runs_config_file_loads_under_the_new_keys_with_a_note(tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text(OLD_CONFIG)
    config = config_lib.from_dict(config_lib.load_file(str(path)))
    assert config.data.dataset_wait_timeout_s == 120.0
    assert (config.optimizer.optimizer, config.optimizer.lr_schedule, config.optimizer.lr_step_every_epochs) == (
        "momentum",
        "step",
        4,
    )
    assert (config.optimizer.learning_rate, config.trainer.seed) == (0.003, 2)  # unrenamed keys as they were
    err = capsys.readouterr().err
    for old, new in (
        ("data.build_wait_s", "data.dataset_wait_timeout_s"),
        ("optimizer.name", "optimizer.optimizer"),
        ("optimizer.schedule", "optimizer.lr_schedule"),
        ("optimizer.step_every_epochs", "optimizer.lr_step_every_epochs"),
    ):
        assert f"'{old}' as '{new}'" in err, err
    assert str(path) in err and "deprecated" in err
    # A file that gives a key under both names is refused: which one to use is not ours to guess.
    both = tmp_path / "both.yaml"
    both.write_text("optimizer:\n  name: sgd\n  optimizer: adam\n")
    with pytest.raises(ConfigError, match="'optimizer.name' \\(deprecated\\) and 'optimizer.optimizer' both"):
        config_lib.load_file(str(both))


def test_the_committed_ablation_configs_still_load(capsys):
    import glob
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = sorted(glob.glob(os.path.join(root, "docs", "ablation", "*", "config.yaml")))
    assert paths, "docs/ablation/*/config.yaml are committed with the repository"
    for path in paths:
        config = config_lib.from_dict(config_lib.load_file(path))
        # Their optimizer is the tiny preset's ablation optimizer, written under the old key names.
        assert (config.optimizer.optimizer, config.optimizer.lr_schedule) == ("adam", "cosine"), path


@pytest.mark.parametrize(
    "old, new, key, value",
    [
        ("dataset_wait_timeout", "dataset_wait_timeout_s", "data.dataset_wait_timeout_s", 90.0),
        ("worker_heartbeat_timeout", "worker_heartbeat_timeout_s", "runtime.worker_heartbeat_timeout_s", 15.0),
        ("collective_timeout", "collective_timeout_s", "runtime.collective_timeout_s", 300.0),
    ],
)
def test_a_deprecated_flag_still_works_and_names_the_new_one(old, new, key, value, capsys):
    flag_values = common.new_flag_values()
    mapping = common.define_config_flags(flag_values)
    seen = {}

    def main(positionals):
        seen["config"] = common.config_from_flags(flag_values, mapping)
        return 0

    for argv in ([f"--{old}={value}"], [f"--{old}", str(value)]):  # both absl spellings
        assert common.run(main, flag_values, "prog", argv, program="rsn-x") == 0
        section, name = key.split(".")
        assert getattr(getattr(seen["config"], section), name) == value
        assert f"rsn-x: --{old} is deprecated; use --{new}" in capsys.readouterr().err
    # The new name says nothing; --help lists the old one beside it.
    assert common.run(main, flag_values, "prog", [f"--{new}={value}"], program="rsn-x") == 0
    assert capsys.readouterr().err == ""
    assert f"(Deprecated name: --{old}.)" in flag_values[new].help


def test_flags_renamed_with_their_keys_keep_the_readable_name():
    flag_values = common.new_flag_values()
    mapping = common.define_config_flags(flag_values)
    assert mapping["optimizer"] == "optimizer.optimizer"
    assert mapping["lr_schedule"] == "optimizer.lr_schedule"
    assert mapping["lr_step_every_epochs"] == "optimizer.lr_step_every_epochs"
    flag_values(["prog", "--optimizer=momentum", "--lr_schedule=step", "--lr_step_every_epochs=3"])
    optimizer = common.config_from_flags(flag_values, mapping).optimizer
    assert (optimizer.optimizer, optimizer.lr_schedule, optimizer.lr_step_every_epochs) == ("momentum", "step", 3)
