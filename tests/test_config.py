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
    flag_names = [f.metadata["flag"] for f in fields.values()]
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
        ({"optimizer": {"name": "rmsprop"}}, "config key 'optimizer.name': expected one of 'sgd', 'momentum', 'adam'"),
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
    assert (tiny.model.preset, tiny.optimizer.name, tiny.optimizer.learning_rate, tiny.trainer.epochs) == (
        "tiny",
        "adam",
        3e-3,
        12,
    )
    # A file picks the paper preset: its defaults apply where the file is silent.
    paper = config_lib.resolve({"model": {"preset": "paper"}, "trainer": {"epochs": 5}})
    assert (paper.optimizer.name, paper.optimizer.schedule, paper.trainer.epochs) == ("sgd", "constant", 5)
    # Flags beat the file, and a preset given as a flag beats the file's.
    flagged = config_lib.resolve(
        {"model": {"preset": "paper"}, "trainer": {"epochs": 5}}, {"trainer.epochs": 7, "model.preset": "tiny"}
    )
    assert (flagged.model.preset, flagged.optimizer.name, flagged.trainer.epochs) == ("tiny", "adam", 7)
    # The ablation's budget is its own column of the same table.
    assert config_lib.resolve(purpose="ablation").trainer.epochs == 8
    with pytest.raises(ConfigError, match="'model.preset': unknown preset 'huge'"):
        config_lib.resolve(flag_values={"model.preset": "huge"})


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
