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
    "rsn-ablation": ["--rows", "--out", "--epochs", "--preset", "--config"],
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


def test_train_py_and_export_py_stay_thin_entry_points_to_the_same_clis():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for entry, name in (("train.py", "rsn-train"), ("export.py", "rsn-export")):
        result = run(sys.executable, os.path.join(root, entry), "--help")
        assert result.returncode == 0 and result.stdout.startswith(name), result.stderr[-1000:]
