"""The console scripts that `pip install -e .` installs: each answers --help, and a bad flag is one clear line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

BIN = os.path.dirname(sys.executable)
SCRIPTS = {
    "rsn-train": ["--stage", "--config", "--model_dir", "--preset", "--batch_size", "--learning_rate"],
    "rsn-export": ["--model_dir", "--keras_model", "--export_base", "--max_side"],
    "rsn-evaluate": ["--model", "--split", "--crop", "--alignment", "--against", "--figures", "--compare"],
    "rsn-predict": ["--model", "--out", "--fx"],
    "rsn-ablation": ["--rows", "--out", "--epochs", "--preset", "--augment_scale", "--config"],
    "rsn-serve-client": ["--server", "--grpc", "--model"],
    "rsn-synthesize": ["--v2_frames", "--v1_frames", "--size"],
    "rsn-build-dataset": ["--dataset", "--manual_dir", "--download", "--mirror", "--depth_scale"],
}


def script(name: str) -> str:
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: install the package with `pip install -e .` (the README's commands do)")
    return path


def run(*cmd: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_console_script_documents_its_flags(name):
    help_flag = "--helpfull" if name == "rsn-train" else "--help"
    result = run(script(name), help_flag)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(name), result.stdout[:200]  # the docstring names the command
    for flag in SCRIPTS[name]:
        assert flag in result.stdout, (name, flag)


@pytest.mark.parametrize("name", ["rsn-train", "rsn-evaluate", "rsn-export"])
def test_an_unknown_flag_is_one_line_naming_it(name):
    result = run(script(name), "--no_such_flag=1")
    assert result.returncode == 2
    assert "no_such_flag" in result.stderr and "Traceback" not in result.stderr


def test_a_command_starts_with_its_own_lines_not_tensorflows_start_up_notices(tmp_path):
    missing = tmp_path / "no_such_run"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the user's default
    result = subprocess.run(
        [script("rsn-export"), f"--model_dir={missing}"], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rsn-export:") and str(missing) in lines[0], result.stderr[-2000:]
    # TensorFlow was imported (the notices are filtered, not avoided), and TF_CPP_MIN_LOG_LEVEL=0 shows them.
    loud = subprocess.run(
        [script("rsn-export"), f"--model_dir={missing}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "0"},
    )
    assert "oneDNN" in loud.stderr or "cuda" in loud.stderr.lower(), loud.stderr[-2000:]


def test_train_py_and_export_py_stay_thin_entry_points_to_the_same_clis():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for entry, name in (("train.py", "rsn-train"), ("export.py", "rsn-export")):
        result = run(sys.executable, os.path.join(root, entry), "--help")
        assert result.returncode == 0 and result.stdout.startswith(name), result.stderr[-1000:]


# Every flag rsn-evaluate had when it defined them by hand, with its default.
EVALUATE_FLAGS = {
    "model": None,
    "stage": None,
    "name": None,
    "dataset": "nyu_region_support/synthetic",
    "data_dir": None,
    "manual_dir": None,
    "split": "test",
    "out": None,
    "batch_size": 8,
    "height": None,
    "width": None,
    "max_images": None,
    "crop": "none",
    "eigen_crop": False,
    "alignment": "none",
    "against": None,
    "min_depth": 1e-3,
    "max_depth": 10.0,
    "figures": 0,
    "figure_width": 224,
    "compare": [],
    "no_progress": False,
}


def test_rsn_evaluate_generates_the_flags_it_had_by_hand_with_their_defaults():
    from rsn_tf.cli import evaluate

    defined = {name: evaluate.FLAGS[name].default for name in evaluate.FLAGS}
    assert defined == EVALUATE_FLAGS
    assert sorted(evaluate.FLAGS["crop"].parser.enum_values) == ["eigen", "garg", "none"]
    assert sorted(evaluate.FLAGS["alignment"].parser.enum_values) == ["least_squares", "median", "none"]
    # The protocol flags are MetricConfig's fields, the data flags the data config's keys.
    assert set(evaluate.METRIC_FLAGS) == {"min_depth", "max_depth", "crop", "alignment"}
    assert set(evaluate.DATA_FLAGS.values()) == {"data.dataset", "data.data_dir", "data.manual_dir", "data.batch_size"}


def test_rsn_evaluate_builds_its_protocol_and_data_config_from_the_flags():
    from rsn_tf.cli import common, evaluate
    from rsn_tf.config import DataConfig
    from rsn_tf.metrics import MetricConfig

    seen = {}

    def main(positionals):
        seen["metric"] = common.dataclass_from_flags(MetricConfig, evaluate.FLAGS, evaluate.METRIC_FLAGS)
        names = [key.split(".", 1)[1] for key in evaluate.DATA_FLAGS.values()]
        seen["data"] = common.dataclass_from_flags(DataConfig, evaluate.FLAGS, names, cache="")
        seen["compare"] = list(evaluate.FLAGS.compare)
        return 0

    argv = ["--crop=garg", "--alignment=median", "--min_depth=0.5", "--max_depth=8", "--batch_size=3"]
    argv += ["--dataset=rgbd_folder/slic", "--compare=A=x", "--compare=B=y"]
    assert common.run(main, evaluate.FLAGS, "doc", argv, program="rsn-evaluate") == 0
    assert seen["metric"] == MetricConfig(min_depth=0.5, max_depth=8.0, crop="garg", alignment="median")
    assert (seen["data"].dataset, seen["data"].batch_size, seen["data"].cache) == ("rgbd_folder/slic", 3, "")
    assert seen["compare"] == ["A=x", "B=y"]


def test_rsn_evaluate_refuses_a_crop_it_does_not_know_in_one_line(capsys):
    from rsn_tf.cli import evaluate

    assert evaluate.main(["--model=x", "--crop=kitti"]) == 2
    err = capsys.readouterr().err
    assert "--crop" in err and "kitti" in err and "Traceback" not in err


def test_rsn_train_takes_a_deprecated_flag_and_names_the_new_one():
    result = run(script("rsn-train"), "--collective_timeout=5", "--stage=no_such_stage")
    assert result.returncode == 2  # the bad stage stops it before TensorFlow starts
    assert "--collective_timeout is deprecated; use --collective_timeout_s" in result.stderr
    assert "no_such_stage" in result.stderr


def test_rsn_ablation_refuses_to_resume_a_table_with_another_augmentation(tmp_path):
    # The zoom range is part of a table's budget: rows trained with and without it are not comparable.
    from rsn_tf import config as config_lib
    from rsn_tf.cli import ablation, common
    from rsn_tf.run_dir import RunDir

    out = str(tmp_path / "table")
    os.makedirs(out)
    earlier = config_lib.override(config_lib.resolve(purpose="ablation"), {"data.augment_scale": 1.5})
    config_lib.save_file(earlier, RunDir(out).config_path)
    ablation._check_budget(out, earlier)  # the same settings resume
    # Only where the rows' data live may change.
    ablation._check_budget(out, config_lib.override(earlier, {"data.data_dir": "/elsewhere"}))
    now = config_lib.override(earlier, {"data.augment_scale": 1.0})
    with pytest.raises(common.CliError, match=r"--augment_scale=1.0 \(was 1.5\)"):
        ablation._check_budget(out, now)


def test_rsn_ablation_refuses_an_archive_that_is_its_own_out_dir(tmp_path, capsys):
    from rsn_tf.cli import ablation

    out = str(tmp_path / "table")
    assert ablation.main([f"--out={out}", f"--archive={out}/.", "--rows=baseline2"]) == 2
    err = capsys.readouterr().err
    assert "--archive" in err and "is --out itself" in err and "Traceback" not in err


def test_a_console_command_ends_with_its_code_its_output_and_its_exit_handlers(tmp_path):
    """``exit_process`` skips the interpreter's teardown, not what a normal exit does first: the exit
    code passes through, output still buffered in a pipe is written, and atexit handlers run. A fresh
    process: ending it is the behaviour."""
    marker = tmp_path / "atexit_ran"
    code = (
        "import atexit, sys\n"
        "from rsn_tf.cli.common import exit_process\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
        "sys.stdout.write('still buffered')\n"
        "sys.stderr.write('and this')\n"
        "exit_process(3)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # a pipe: block-buffered
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 3
    assert result.stdout == "still buffered" and result.stderr == "and this"
    assert marker.read_text() == "ran"
