"""Test-wide setup: a quiet TensorFlow, the suite's order on two xdist workers, and the artefacts
every test run builds once.

Process policy. A test starts a subprocess only where the process itself is the behaviour:
  - signals and exit codes (SIGTERM -> 42, a dead peer -> 43);
  - multi-worker training (real worker processes on localhost);
  - logical CPU devices, and anything read when TensorFlow is imported (--deterministic sets
    TF_ENABLE_ONEDNN_OPTS and TF_NUM_INTEROP_THREADS before the import), which only a fresh
    process can show;
  - a fresh process that loads the dataset or the SavedModel without this project's code;
  - the console scripts and thin entry points: one smoke test each (test_cli.py);
  - outside programs (saved_model_cli, the web demo's server under a real browser, the bench
    scripts, whose command lines BENCHMARKS.md quotes).
Everything else calls the CLI's ``main(argv)`` in this process and checks what it returned,
printed and wrote.

Shared artefacts (fixtures below). Built once per test run, behind a file lock in the directory
that every xdist worker of the run shares: the small dataset (``nyu_region_support/synthetic_mini``,
96x128, through NYU's .mat path), one tiny run with all five stages, and the tiny models and
exports that several modules read (``built_tiny_model``). Tests only read them.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import io
import os
import pathlib
import shutil
from collections.abc import Callable

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

SHARED_DATASET = "nyu_region_support/synthetic_mini"
# The real kitchen sequence in ../shared/data (read in place, never copied into the project).
REAL_SEQUENCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data",
                             "real_sequence_7scenes")  # fmt: skip
_COMPLETE = ".complete"


def pytest_collection_modifyitems(config, items):
    """Modules with the most slow tests first, each module's tests kept together.

    With ``-n 2 --dist load --maxschedchunk 1`` (pyproject) the long trainer scenarios start at once on both
    workers and the quick tests fill in at the end, instead of one 5-minute scenario starting last and
    running alone. A module split across both workers would build its module-scoped fixtures on each:
    the costly ones are built once per run instead (``built_once``).
    """
    slow = collections.Counter(item.module.__name__ for item in items if item.get_closest_marker("slow"))
    first_seen = {}
    for index, item in enumerate(items):
        first_seen.setdefault(item.module.__name__, index)
    items.sort(key=lambda item: (-slow[item.module.__name__], first_seen[item.module.__name__]))


# ------------------------------------------------------------------ built once per test run


def _shared_root(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The directory all xdist workers of this run share (each worker's basetemp is a child of it)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    root = base / "shared_artifacts"
    root.mkdir(exist_ok=True)
    return root


def built_once(root: pathlib.Path, name: str, build: Callable[[pathlib.Path], None]) -> pathlib.Path:
    """``root/name``, built by ``build(path)`` by whichever worker gets the lock first.

    A build that raised leaves no ``.complete`` mark, so the next worker builds it again (and
    reports the same error) rather than reading half an artefact.
    """
    target = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (target / _COMPLETE).exists():
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir()
                build(target)
                (target / _COMPLETE).write_text("")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def _build_mini_dataset(target: pathlib.Path) -> None:
    import tensorflow_datasets as tfds

    import tfds_nyu  # noqa: F401  (registers the builders)

    tfds.builder(SHARED_DATASET, data_dir=str(target)).download_and_prepare()


def train_in_process(argv: list[str], log: pathlib.Path | None = None) -> tuple[int, str, str]:
    """``rsn-train`` run in this process: (exit code, stdout, stderr), stdout also written to ``log``."""
    from rsn_tf.cli.train import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    if log is not None:
        log.write_text(out.getvalue())
    return code, out.getvalue(), err.getvalue()


def tiny_train_argv(data_dir: str, model_dir: pathlib.Path | str, *extra: str) -> list[str]:
    """The suite's training command: the shared dataset, the tiny preset, no export, quiet logs, and
    float32 (``--precision=auto`` would pick bfloat16 on some CI machines and not on others)."""
    return [
        f"--dataset={SHARED_DATASET}",
        "--precision=float32",
        f"--data_dir={data_dir}",
        f"--model_dir={model_dir}",
        "--batch_size=4",
        "--eval_batches=1",
        "--image_summaries=0",
        "--export=false",
        "--log_every_steps=1",
        *extra,
    ]


@pytest.fixture(scope="session")
def shared_root(tmp_path_factory) -> pathlib.Path:
    return _shared_root(tmp_path_factory)


@pytest.fixture(scope="session")
def mini_data_dir(shared_root) -> str:
    """A data dir holding the built ``nyu_region_support/synthetic_mini`` (16 + 16 frames at 96x128)."""
    return str(built_once(shared_root, "tfds", _build_mini_dataset))


@pytest.fixture(scope="session")
def tiny_run(shared_root, mini_data_dir) -> pathlib.Path:
    """A run dir with all five stages, one step each (``train.log`` holds what rsn-train printed)."""

    def build(target: pathlib.Path) -> None:
        argv = tiny_train_argv(mini_data_dir, target / "run", "--stage=all", "--epochs=1", "--steps_per_epoch=1")
        code, _, err = train_in_process(argv, target / "train.log")
        assert code == 0, err[-3000:]

    return built_once(shared_root, "tiny_run", build) / "run"


def built_tiny_model(
    root: pathlib.Path, name: str, export: Callable[[object, pathlib.Path], None], seed: int | None = None
) -> pathlib.Path:
    """``root/name``: an untrained tiny model at 48x64 saved as ``model.keras``, then ``export(model, dir)``,
    built once per test run (``built_once``). Load the model back with ``load_keras_file``."""

    def build(target: pathlib.Path) -> None:
        import keras

        from rsn_tf.models import RegionSupportNetwork, get_preset

        if seed is not None:
            keras.utils.set_random_seed(seed)
        model = RegionSupportNetwork(get_preset("tiny", height=48, width=64))
        model.build()
        model.save(str(target / "model.keras"))
        export(model, target)

    return built_once(root, name, build)


@pytest.fixture(scope="session")
def confidence_export(shared_root) -> dict[str, str]:
    """An untrained tiny model at 48x64 (``keras``) and its SavedModel with the confidence output (``saved_model``)."""
    from rsn_tf.serving.exporter import export_saved_model

    def export(model, target: pathlib.Path) -> None:
        export_saved_model(model, str(target / "export"), "rsn", include_confidence=True)

    target = built_tiny_model(shared_root, "confidence_export", export)
    return {"keras": str(target / "model.keras"), "saved_model": str(target / "export" / "rsn" / "1")}
