"""The trainer: real distributed runs, kill-and-resume, divergence guard, stage chaining, bad input.

Every run here is a real ``train.py`` (or TensorFlow) process on a tiny dataset built from
synthetic NYU-format files; nothing is mocked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import SHARED_DATASET, tiny_train_argv, train_in_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train_cmd(data_dir: str, model_dir, *extra: str) -> list[str]:
    """The suite's training command as a fresh ``train.py`` process."""
    return [sys.executable, os.path.join(ROOT, "train.py"), *tiny_train_argv(data_dir, model_dir, *extra)]


def env(**extra: str) -> dict:
    out = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    out.update({"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1", **extra})
    return out


def run(cmd, timeout=600, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("cwd", ROOT)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=kw.pop("env", env()), **kw)


# ------------------------------------------------------------------ distribution


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_trains_the_weights_one_device_trains(mini_data_dir, tmp_path):
    """The production path: the real Trainer (distribute_datasets_from_function, the strategy's
    reductions, synchronised BatchNorm) on 1 and on 2 logical CPU devices, same global batch.

    Subprocesses: logical devices are fixed when TensorFlow initialises. SGD, the paper's
    optimizer: Adam's first steps divide by tiny second moments and amplify float noise.
    """
    common = ["--stage=joint", "--epochs=1", "--steps_per_epoch=3", "--optimizer=sgd", "--learning_rate=1e-3"]
    common += ["--seed=2", "--deterministic", "--checkpoint_every_steps=1", "--keep_checkpoints=5"]
    procs = {
        devices: _start(train_cmd(mini_data_dir, tmp_path / str(devices), *common, f"--cpu_devices={devices}"),
                        tmp_path / f"{devices}.log")
        for devices in (1, 2)
    }  # fmt: skip
    for devices, proc in procs.items():
        proc.wait(timeout=600)
        assert proc.returncode == 0, (tmp_path / f"{devices}.log").read_text()[-3000:]
    assert "MirroredStrategy" in (tmp_path / "2.log").read_text()
    assert "MirroredStrategy" not in (tmp_path / "1.log").read_text()
    one, two = _checkpoint(tmp_path / "1" / "joint", 3), _checkpoint(tmp_path / "2" / "joint", 3)
    first = _checkpoint(tmp_path / "1" / "joint", 1)
    assert one.keys() == two.keys() and len(one) > 50
    assert max(float(np.max(np.abs(one[n] - first[n]))) for n in one) > 1e-4, "the weights should have moved"
    for name in one:
        if "moving_" in name:
            # Synchronised BN over 2 replicas takes the variance as E[x^2] - E[x]^2 from all-reduced
            # sums, one device a two-pass formula: it shows on channels of tiny variance (measured 0.14 %).
            np.testing.assert_allclose(two[name], one[name], rtol=5e-3, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_allclose(two[name], one[name], rtol=1e-4, atol=1e-5, err_msg=name)
    losses = [json.loads((tmp_path / d / "joint" / "metrics.json").read_text())["training"]["final_losses"]
              for d in ("1", "2")]  # fmt: skip
    for term, value in losses[0].items():
        assert losses[1][term] == pytest.approx(value, rel=1e-4), term


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_build_once_survive_a_stall_sigterm_and_a_dead_peer_and_ignore_a_stale_checkpoint(tmp_path):
    """Two real worker processes (MultiWorkerMirroredStrategy on localhost), one scenario:

    1. an empty data dir: the chief builds the dataset, worker 1 waits for it;
    2. worker 1 stopped (SIGSTOP) for 6 s, then continued: the job goes on;
    3. SIGTERM to worker 1: both save at the same step and exit 42;
    4. restarted, they resume there; worker 1 is then killed outright (SIGKILL): the chief stops
       within the heartbeat timeout with exit 43 and says how to restart;
    5. restarted again, with a checkpoint of another run (another step) planted in worker 1's own
       dir, what a machine-wide scratch dir used to hand it: the worker ignores it and says so; both
       resume from the chief's last checkpoint, finish in lockstep, and end with identical weights.

    The generation stage: the multi-worker path is the stage-independent Trainer, and the joint
    stage's three refinement iterations would cost each of the eight processes its tracing time.
    """
    import tensorflow as tf

    total, heartbeat = 12, 20
    data_dir = tmp_path / "tfds"
    stage = "generation"
    cmd = train_cmd(str(data_dir), tmp_path / "model", "--epochs=1", f"--steps_per_epoch={total}", f"--stage={stage}")
    cmd = [c.replace(SHARED_DATASET, "nyu_region_support/synthetic_hard_mini") for c in cmd]
    cmd += ["--checkpoint_every_steps=2", f"--worker_heartbeat_timeout_s={heartbeat}"]
    chief_dir = tmp_path / "model" / stage
    started: list[subprocess.Popen] = []

    def start_workers(tag: str) -> list[tuple[subprocess.Popen, object]]:
        ports = free_ports(2)
        cluster = {"worker": [f"localhost:{p}" for p in ports]}
        workers = []
        for index in range(2):
            (tmp_path / f"tmp{index}").mkdir(exist_ok=True)
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            log = tmp_path / f"{tag}{index}.log"
            workers.append((_start(cmd, log, TF_CONFIG=tf_config, TMPDIR=str(tmp_path / f"tmp{index}")), log))
            started.append(workers[-1][0])
        return workers

    def latest_step() -> int:
        return int(tf.train.latest_checkpoint(str(chief_dir)).rsplit("-", 1)[1])

    try:
        # 1-3: build once, stall, SIGTERM.
        workers = start_workers("first")
        _wait_for_step(workers[0][0], workers[0][1], total, at_least=2)
        workers[1][0].send_signal(signal.SIGSTOP)
        time.sleep(6)
        workers[1][0].send_signal(signal.SIGCONT)
        _wait_for_step(workers[0][0], workers[0][1], total, at_least=4)  # the stall did not kill the job
        workers[1][0].send_signal(signal.SIGTERM)
        signalled = time.time()
        for proc, log in workers:
            proc.wait(timeout=240)
            assert proc.returncode == 42, log.read_text()[-3000:]  # both: preempted, checkpoint saved
        assert time.time() - signalled < 120
        chief, other = (log.read_text() for _, log in workers)
        for text in (chief, other):  # rsn-train's own exit (its TerminationConfig), not TF's default one
            assert "rsn-train: preempted: every worker saved a checkpoint" in text, text[-3000:]
        assert "MultiWorkerMirroredStrategy" in chief
        assert "Building nyu_region_support/synthetic_hard_mini" in chief and "Waiting for" not in chief
        assert "Waiting for the chief (worker 0) to build nyu_region_support/synthetic_hard_mini" in other
        assert "Building" not in other and "rendering synthetic" not in other
        assert len(list((data_dir / "downloads").glob("synthetic_hard_nyu_*/*.mat"))) == 3  # one build: v2, v1, splits
        _check_synthetic_hard_mini(str(data_dir))
        preempted = latest_step()
        assert 4 <= preempted < total and not (chief_dir / "metrics.json").exists()

        # 4: resume, then a dead peer.
        workers = start_workers("again")
        _wait_for_step(workers[0][0], workers[0][1], total, at_least=preempted + 2)
        assert f"Resuming stage '{stage}' from {chief_dir}/ckpt-{preempted} at step {preempted}." in (
            workers[0][1].read_text()
        )
        workers[1][0].kill()
        killed = time.time()
        proc, log = workers[0]
        proc.wait(timeout=heartbeat + 120)
        text = log.read_text()
        assert proc.returncode == 43, text[-3000:]
        assert time.time() - killed < heartbeat + 90  # bounded: no hang
        assert "another worker of this multi-worker job died or stopped responding" in text
        assert "Restart every worker with the same command" in text and "Traceback" not in text
        resumed = latest_step()
        assert resumed > preempted

        # 5: another run's checkpoint, at another step, planted in worker 1's own dir; then resume
        # from the chief's checkpoint and finish in lockstep.
        planted = tmp_path / "model" / ".workers" / "worker-1" / stage
        shutil.rmtree(planted, ignore_errors=True)
        planted.mkdir(parents=True)
        earlier = tf.train.get_checkpoint_state(str(chief_dir)).all_model_checkpoint_paths[0]
        assert not earlier.endswith(f"ckpt-{resumed}")
        for path in chief_dir.glob(os.path.basename(earlier) + ".*"):
            shutil.copy(path, planted / path.name)
        (planted / "checkpoint").write_text(f'model_checkpoint_path: "{os.path.basename(earlier)}"\n')
        other_run = _identity_of_another_job(chief_dir, tmp_path / "second")
        (planted / "run_identity.json").write_text(json.dumps(other_run))
        workers = start_workers("last")
        for proc, log in workers:
            proc.wait(timeout=400)
            assert proc.returncode == 0, log.read_text()[-3000:]
    finally:
        for proc in started:  # never leave a worker waiting for a peer that will not come
            if proc.poll() is None:
                proc.kill()
    chief, other = (log.read_text() for _, log in workers)
    assert f"Resuming stage '{stage}' from {chief_dir}/ckpt-{resumed} at step {resumed}." in chief
    assert f"ignoring stale checkpoints in {planted} written by run {other_run['config_hash']}" in other
    assert "a worker resumes from the chief's checkpoints only" in other
    assert json.loads((chief_dir / "metrics.json").read_text())["training"]["steps"] == total
    _assert_workers_trained_alike(workers, stage, resumed, total)
    assert not (tmp_path / "model" / ".workers").exists()  # each worker removed its own files


def _identity_of_another_job(stage_dir, model_dir) -> dict:
    """The run identity the same command writes into another run dir with another step count."""
    from rsn_tf import config as config_lib
    from rsn_tf.schedule import get_stage
    from rsn_tf.training.run_identity import run_identity

    this = json.loads((stage_dir / "run_identity.json").read_text())
    config = config_lib.from_dict(config_lib.load_file(str(stage_dir / "config.yaml")))
    config = config_lib.override(config, {"trainer.model_dir": str(model_dir), "trainer.steps_per_epoch": 3})
    other = run_identity(config, get_stage(stage_dir.name).to_dict())
    assert other["config_hash"] != this["config_hash"]
    return other


def _assert_workers_trained_alike(workers, stage: str, start: int, total: int) -> None:
    """Worker 1 trained steps start..total, and both workers end with the same weights digest."""
    chief, other = (log.read_text() for _, log in workers)
    digest = re.search(rf"Stage '{stage}' weights sha256 ([0-9a-f]{{64}})", chief).group(1)
    assert (
        f"Worker worker-1: stage '{stage}' trained steps {start}-{total} of {total}; weights sha256 {digest}" in other
    )


def test_a_run_started_before_fine_tuning_existed_keeps_its_identity_and_a_fine_tuned_one_does_not():
    """Old run dirs must still resume: the default config's joint-stage hash is the one the commit
    before --init_from (2c5556b~1) wrote, computed there; naming a parent changes it."""
    from rsn_tf import config as config_lib
    from rsn_tf.schedule import get_stage
    from rsn_tf.training.run_identity import run_identity

    spec = get_stage("joint").to_dict()
    assert run_identity(config_lib.ExperimentConfig(), spec)["config_hash"] == "be1382fb324ab1a0"
    for key, value in (("model.init_from", "runs/demo"), ("task.freeze", "generation")):
        changed = config_lib.override(config_lib.ExperimentConfig(), {key: value})
        assert run_identity(changed, spec)["config_hash"] != "be1382fb324ab1a0", key


def test_a_stage_dir_with_another_runs_checkpoints_is_refused_naming_both_runs(tmp_path):
    import tensorflow as tf

    from rsn_tf import config as config_lib
    from rsn_tf.run_dir import StageDir
    from rsn_tf.schedule import get_stage
    from rsn_tf.training.run_identity import RunIdentityError, check_resumable, run_identity

    spec = get_stage("joint").to_dict()
    first = config_lib.override(config_lib.ExperimentConfig(), {"trainer.model_dir": str(tmp_path / "a")})
    stage = StageDir(str(tmp_path / "a" / "joint"))
    assert check_resumable(stage, run_identity(first, spec)) is None  # nothing there yet
    tf.train.Checkpoint(v=tf.Variable(1.0)).save(os.path.join(stage.path, "ckpt"))
    note = check_resumable(stage, run_identity(first, spec))
    assert note and "run_identity.json is missing" in note  # an earlier RSN-TF's checkpoints: taken, with a note
    stage.write_identity(run_identity(first, spec))

    # The same run, invoked again with a longer budget and more logging: the same identity.
    longer = config_lib.override(first, {"trainer.epochs": 99, "trainer.log_every_steps": 1, "data.data_dir": "/x"})
    assert check_resumable(stage, run_identity(longer, spec)) is None
    # Another run: other data order, another learning rate.
    other = config_lib.override(first, {"trainer.seed": 7, "optimizer.learning_rate": 0.5})
    with pytest.raises(RunIdentityError) as error:
        check_resumable(stage, run_identity(other, spec))
    message = str(error.value)
    assert run_identity(first, spec)["config_hash"] in message and run_identity(other, spec)["config_hash"] in message
    assert "trainer.seed: 0 there, 7 here" in message and "optimizer.learning_rate" in message
    assert f"{stage.path}/ckpt-1 belongs to another run" in message
    # A different stage's switches are a different identity too.
    assert (
        run_identity(first, get_stage("generation").to_dict())["config_hash"]
        != run_identity(first, spec)["config_hash"]
    )


def _check_synthetic_hard_mini(data_dir: str) -> None:
    """The hard world's test config, as built through the NYU .mat path."""
    import tensorflow_datasets as tfds

    import tfds_nyu  # noqa: F401

    builder = tfds.builder("nyu_region_support/synthetic_hard_mini", data_dir=data_dir)
    splits = builder.info.splits
    assert splits["train"].num_examples + splits["test"].num_examples == 32
    assert splits["test"].num_examples > 0 and splits["train"].num_examples > 0
    names = builder.info.metadata["class_names"]
    assert "garbage bin" in names and "blinds" in names  # v2's and v1's class tables merged by name
    for example in tfds.as_numpy(builder.as_dataset(split="test")):
        assert (example["depth"] > 0).all()  # `depths` is in-painted, as in NYU's labelled set
        assert example["label"].max() < len(names)
        assert example["source"].decode().endswith(":labels")


def test_a_worker_waiting_for_a_build_that_never_comes_stops_with_what_to_do(tmp_path):
    from rsn_tf.data import DatasetNotBuiltError, wait_for_builder

    said = []
    start = time.monotonic()
    with pytest.raises(DatasetNotBuiltError) as error:
        wait_for_builder(
            "nyu_region_support/synthetic_hard_mini", str(tmp_path), "the chief (worker 0)", 0.5, 0.1, said.append
        )
    assert time.monotonic() - start < 5
    message = str(error.value)
    assert "--dataset_wait_timeout_s" in message and "the chief (worker 0)" in message
    assert f"rsn-build-dataset --dataset=nyu_region_support/synthetic_hard_mini --data_dir={tmp_path}" in message
    assert said and said[0].startswith("Waiting for the chief (worker 0) to build")


# ------------------------------------------------------------------ faults


def _weights(stage_dir) -> dict[str, np.ndarray]:
    """Every array of a finished stage's generation and refinement weight files, by name."""
    import h5py

    out = {}
    for module in ("generation", "refinement"):
        with h5py.File(stage_dir / f"{module}.weights.h5") as fh:
            fh.visititems(
                lambda n, obj, m=module: out.__setitem__(f"{m}/{n}", obj[()]) if hasattr(obj, "shape") else None
            )
    return out


def _checkpoint(stage_dir, step: int) -> dict[str, np.ndarray]:
    """The model's variables in ``ckpt-<step>`` of a stage dir, by checkpoint key."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(stage_dir / f"ckpt-{step}"))
    keys = [k for k in reader.get_variable_to_shape_map() if k.startswith("weights/") and "OPTIMIZER_SLOT" not in k]
    return {k: reader.get_tensor(k) for k in keys}


def _start(cmd, log_path, cwd=ROOT, **env_extra) -> subprocess.Popen:
    log = open(log_path, "w")
    return subprocess.Popen(cmd, cwd=cwd, env=env(**env_extra), stdout=log, stderr=subprocess.STDOUT, text=True)


def _wait_for_step(proc, log_path, total: int, at_least: int, timeout: float = 400) -> None:
    """Until the progress bar shows ``at_least`` of ``total`` steps done (the run is in its loop)."""
    deadline = time.time() + timeout
    pattern = re.compile(rf"(\d+)/{total} \[")
    while time.time() < deadline:
        text = open(log_path).read()
        done = [int(m) for m in pattern.findall(text)]
        if done and max(done) >= at_least:
            return
        assert proc.poll() is None, text[-3000:]
        time.sleep(0.2)
    pytest.fail(f"no step {at_least}/{total} within {timeout} s:\n{open(log_path).read()[-3000:]}")


@pytest.mark.slow
def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(mini_data_dir, tmp_path):
    model_dir = tmp_path / "model"
    # The generation stage: the guard is the Trainer's, whatever the stage's loss.
    argv = tiny_train_argv(mini_data_dir, model_dir, "--stage=generation", "--epochs=1", "--steps_per_epoch=6")
    code, _, err = train_in_process([*argv, "--checkpoint_every_steps=2", "--inject_nan_at_step=3"])
    assert code == 2
    stage_dir = model_dir / "generation"
    assert "The loss became nan at step 3 of stage 'generation'" in err
    assert f"The last good checkpoint is kept: {stage_dir}/ckpt-2" in err
    assert "Traceback" not in err
    assert (stage_dir / "ckpt-2.index").exists() and not (stage_dir / "ckpt-4.index").exists()


# ------------------------------------------------------------------ stages


@pytest.mark.slow
def test_all_stages_chain_their_initialisation(tiny_run, tmp_path):
    out = (tiny_run.parent / "train.log").read_text()  # what rsn-train --stage=all printed
    for stage in ("generation", "refinement", "refine_frozen_generation", "generation_frozen_refinement", "joint"):
        assert f"Stage '{stage}'" in out
        assert (tiny_run / stage / "metrics.json").exists()
    assert "generation: initialised from stage 'generation'" in out
    assert "refinement: initialised from stage 'refinement'" in out
    assert "generation: initialised from stage 'refine_frozen_generation'" in out
    assert "generation: initialised from stage 'generation_frozen_refinement'" in out
    # Exported from the run dir, the serving bundle says where the model came from and how it scored.
    from rsn_tf.cli.export import main as export_main

    assert export_main([f"--model_dir={tiny_run}", f"--export_base={tmp_path / 'export'}"]) == 0
    info = json.loads((tmp_path / "export" / "rsn" / "1" / "serving_info.json").read_text())
    stage_metrics = json.loads((tiny_run / "joint" / "metrics.json").read_text())
    assert info["training"]["stage"] == "joint" and info["training"]["dataset"] == SHARED_DATASET
    assert info["training"]["steps"] == stage_metrics["training"]["steps"]
    assert info["test_metrics"]["protocol_line"] == stage_metrics["protocol_line"]
    assert info["test_metrics"]["protocol_line"].startswith(f"Protocol: {SHARED_DATASET} ")
    assert info["test_metrics"]["metrics"] == stage_metrics["metrics"] and info["model"]["preset"] == "tiny"


@pytest.mark.slow
def test_missing_earlier_stage_warns_and_says_what_it_did(mini_data_dir, tmp_path):
    argv = tiny_train_argv(mini_data_dir, tmp_path / "model", "--stage=refine_frozen_generation", "--epochs=1")
    code, out, err = train_in_process([*argv, "--steps_per_epoch=1"])
    assert code == 0, err[-3000:]
    assert "WARNING: no earlier-stage weights for the generation module" in out
    assert "starts from random initialisation instead" in out
    assert "--stage=generation" in out


@pytest.mark.slow
def test_a_stage_trains_on_the_part_of_a_split_it_is_given_and_a_split_the_dataset_lacks_is_refused(
    mini_data_dir, tmp_path
):
    # The shared dataset's train split has 28 frames; its first 10 at batch 4 make 2 steps an epoch.
    argv = tiny_train_argv(mini_data_dir, tmp_path / "part", "--stage=generation", "--epochs=1")
    code, out, err = train_in_process([*argv, "--train_split=train[:10]"])
    assert code == 0, err[-3000:]
    assert f"Data: 10 training frames (train[:10]) of {SHARED_DATASET}; 2 steps x global batch 4" in out
    saved = json.loads((tmp_path / "part" / "generation" / "metrics.json").read_text())
    assert saved["training"]["steps"] == 2
    for split, said in (
        ("validation", "not a split of"),
        ("train[40:]", "incompatible with 28 examples"),
        ("train[5:5]", "holds no example"),
    ):
        code, _, err = train_in_process(
            tiny_train_argv(mini_data_dir, tmp_path / split, "--stage=generation", f"--train_split={split}")
        )
        assert code == 2 and f"--train_split={split}: " in err and said in err and "Traceback" not in err, err


def test_linear_then_log_region_loss_in_the_generation_stage():
    from rsn_tf.config import ExperimentConfig, override
    from rsn_tf.schedule import get_stage
    from rsn_tf.training.task import RSNTask

    task = RSNTask(override(ExperimentConfig(), {"task.linear_epochs": 17}), get_stage("generation"))
    assert [task.log_mode(e) for e in (0, 16, 17, 30)] == [False, False, True, True]
    assert RSNTask(ExperimentConfig(), get_stage("joint")).log_mode(0) is True


# ------------------------------------------------------------------ exact: resume and replay


def _tensorboard_scalars(log_dir) -> dict[str, dict[int, float]]:
    """Every scalar in a TensorBoard log dir, read with TensorFlow's own event reader: tag -> {step: value}."""
    import tensorflow as tf

    out: dict[str, dict[int, float]] = {}
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                out.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
    return out


@pytest.mark.slow
@pytest.mark.exact
def test_a_deterministic_run_resumed_after_sigterm_and_replayed_from_its_config_gives_the_same_model(
    mini_data_dir, tmp_path
):
    """One deterministic run SIGTERM'd (exit 42 at the next step) and resumed, against its replay
    from config.yaml alone in another directory, run straight through. Two epochs, so the resumed
    stream crosses an epoch boundary. The two agree only if both the resume and the replay are
    exact: a resume that restarted the input stream, or a replay that lost a setting, differs from
    a straight run. Both processes' TensorBoard logs hold every step.

    Subprocesses: the signal and the exit status are the behaviour, --deterministic sets
    TF_ENABLE_ONEDNN_OPTS and TF_NUM_INTEROP_THREADS before TensorFlow is imported, and a console
    command ends without the interpreter's teardown (its logs must be written by then).
    """
    import tensorflow as tf
    import yaml

    from rsn_tf.metrics import METRIC_NAMES

    per_epoch = 4
    total = 2 * per_epoch
    common = ["--stage=joint", "--epochs=2", f"--steps_per_epoch={per_epoch}", "--checkpoint_every_steps=100"]
    common += ["--deterministic", "--seed=4", "--learning_rate=0.002", "--color_jitter=0.1"]
    first_cwd, replay_cwd = tmp_path / "one", tmp_path / "two"
    first_cwd.mkdir(), replay_cwd.mkdir()
    # A relative run dir, so that the replay from another directory writes a run of its own.
    cmd = train_cmd(mini_data_dir, "runs/r", *common)
    log = tmp_path / "preempted.log"
    proc = _start(cmd, log, cwd=first_cwd)
    _wait_for_step(proc, log, total, at_least=2)
    proc.send_signal(signal.SIGTERM)
    signalled = time.time()
    proc.wait(timeout=120)
    seconds = time.time() - signalled
    text = log.read_text()
    assert proc.returncode == 42, text[-3000:]  # the documented "preempted" status
    assert seconds < 60, f"took {seconds:.1f} s to save and exit"  # one step and one checkpoint write
    stopped = int(re.search(rf"preempted \(SIGTERM\) at step (\d+) of {total}", text).group(1))
    assert 2 <= stopped < total
    stage_dir = first_cwd / "runs" / "r" / "joint"
    assert tf.train.latest_checkpoint(str(stage_dir)).endswith(f"ckpt-{stopped}")  # saved at that step boundary
    # Not done, so not exportable: a SIGKILL leaves the same state, with the last periodic checkpoint.
    assert not (stage_dir / "metrics.json").exists()
    assert json.loads((stage_dir / "stage.json").read_text())["complete"] is False
    assert set(_tensorboard_scalars(stage_dir / "logs" / "train")["loss/total"]) == set(range(1, stopped + 1))
    config_path = first_cwd / "runs" / "r" / "config.yaml"
    saved = yaml.safe_load(config_path.read_text())
    assert saved["task"]["stage"] == "joint" and saved["trainer"]["epochs"] == 2
    assert saved["optimizer"]["learning_rate"] == 0.002 and saved["data"]["color_jitter"] == 0.1
    assert saved["data"]["batch_size"] == 4 and saved["trainer"]["seed"] == 4 and saved["trainer"]["export"] is False
    assert saved["runtime"]["deterministic"] is True
    assert yaml.safe_load((stage_dir / "config.yaml").read_text()) == saved

    # The same command again resumes.
    again = run(cmd, cwd=first_cwd)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"from runs/r/joint/ckpt-{stopped} at step {stopped}." in again.stdout

    # The replay: the file alone, no other flag.
    replay = run([sys.executable, os.path.join(ROOT, "train.py"), f"--config={config_path}"], cwd=replay_cwd)
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert yaml.safe_load((replay_cwd / "runs" / "r" / "config.yaml").read_text()) == saved
    assert "Resuming" not in replay.stdout

    # Exact resume and replay: --deterministic makes them identical to float noise (bit-identical in
    # every run measured); 1e-5 is the promise (docs/training.md). With two inter-op threads the weights
    # differed by 1e-5 to 1e-4 relative in 6 of 7 runs, which fails here.
    replayed_dir = replay_cwd / "runs" / "r" / "joint"
    expected, got = _weights(replayed_dir), _weights(stage_dir)
    assert expected.keys() == got.keys() and len(got) > 50
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    a = json.loads((stage_dir / "metrics.json").read_text())
    b = json.loads((replayed_dir / "metrics.json").read_text())
    assert a["settings"] == b["settings"] and a["metrics"]["num_images"] == b["metrics"]["num_images"]
    for name in METRIC_NAMES:
        assert b["metrics"][name] == pytest.approx(a["metrics"][name], rel=1e-5, abs=1e-9), name
    for term, value in a["training"]["final_losses"].items():
        assert b["training"]["final_losses"][term] == pytest.approx(value, rel=1e-5), term

    # TensorBoard: the two processes' logs together hold every step's scalars, the last step's loss
    # as metrics.json has it, and the test metrics at the end.
    train_logs = _tensorboard_scalars(stage_dir / "logs" / "train")
    assert set(train_logs["loss/total"]) == set(range(1, total + 1))
    assert train_logs["loss/total"][total] == pytest.approx(a["training"]["final_losses"]["total"], rel=1e-6)
    eval_logs = _tensorboard_scalars(stage_dir / "logs" / "eval")
    assert eval_logs["delta1"] == {total: pytest.approx(a["metrics"]["delta1"], rel=1e-6)}


# ------------------------------------------------------------------ bad input


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra, message",
    [
        (["--stage=pretrain"], "--stage='pretrain' is not a stage. Choose one of: generation, refinement"),
        (["--dataset=nyu_region_support/v2"], "rsn-build-dataset --dataset=nyu_region_support/v2"),
        (["--model_dir=/proc/rsn_forbidden"], "--model_dir=/proc/rsn_forbidden is not writable"),
        (["--cpu_devices=2", "--batch_size=3"], "--batch_size=3 is not divisible by the 2 replicas"),
    ],
)
def test_bad_input_gets_one_paragraph_without_a_traceback(mini_data_dir, tmp_path, extra, message):
    argv = tiny_train_argv(mini_data_dir, tmp_path / "model", "--epochs=1", "--steps_per_epoch=1", *extra)
    if "--dataset=nyu_region_support/v2" in extra:
        argv = [c for c in argv if not c.startswith("--data_dir")] + [f"--data_dir={tmp_path / 'empty'}"]
    if "--model_dir=/proc/rsn_forbidden" in extra:
        argv = [c for c in argv if c != f"--model_dir={tmp_path / 'model'}"]
    if "--cpu_devices=2" in extra:  # logical devices exist only in a fresh process
        result = run([sys.executable, os.path.join(ROOT, "train.py"), *argv])
        code, err = result.returncode, result.stderr
    else:
        code, _, err = train_in_process(argv)
    assert code == 2, err[-2000:]
    assert message in err
    assert "Traceback" not in err


def test_the_checkpoint_holds_every_model_variable_and_refuses_the_earlier_layout(tmp_path):
    import keras
    import tensorflow as tf

    from rsn_tf.models import RegionSupportNetwork, get_preset
    from rsn_tf.training.trainer import TrainingError, restore_training_checkpoint, training_checkpoint

    model = RegionSupportNetwork(get_preset("tiny", height=32, width=48))
    model.build()
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(7, dtype=tf.int64)
    rng = np.random.default_rng(0)
    for variable in model.weights:  # distinct values everywhere, BatchNorm statistics included
        variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype(np.float32))
    expected = [v.numpy().copy() for v in model.weights]
    new = training_checkpoint(model, optimizer, step).save(str(tmp_path / "new" / "ckpt"))
    legacy = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step).save(str(tmp_path / "old" / "ckpt"))

    for variable in model.weights:
        variable.assign(tf.zeros_like(variable))
    restore_training_checkpoint(new, training_checkpoint(model, optimizer, step))
    for variable, value in zip(model.weights, expected):  # every one, the list-held layers' too
        np.testing.assert_array_equal(variable.numpy(), value, err_msg=variable.path)
    # The earlier layout (the model object, which missed list-held layers' statistics) is no longer
    # read: the error names the checkpoint and how to start the stage again.
    with pytest.raises(TrainingError) as error:
        restore_training_checkpoint(legacy, training_checkpoint(model, optimizer, step))
    assert str(error.value).startswith(f"{legacy} does not hold this stage's variables by path")
    assert f"Remove {tmp_path / 'old'}/ckpt-*" in str(error.value)


class _Info:
    """The part of a TFDS DatasetInfo that tfds_nyu.class_names reads."""

    def __init__(self, names):
        self.features = {}  # no label feature with names: the metadata's table is read
        self.metadata = {"class_names": names} if names else {}
        self.full_name = "stub/1.0.0"


class _Builder:
    def __init__(self, names):
        self.info = _Info(names)


@pytest.mark.parametrize(
    "names, expected",
    [
        (["unlabeled", "wall", "floor", "chair"], 3),  # names[0] is "unlabeled": 3 classes
        (["unlabeled", *(f"class {i}" for i in range(40))], 40),
        (None, 894),  # a dataset without a names table (rgbd_folder, h5) keeps the preset's
    ],
)
def test_the_class_count_comes_from_the_dataset_and_is_recorded_in_the_model_config(names, expected):

    from rsn_tf import config as config_lib
    from rsn_tf.models import RSNConfig
    from rsn_tf.schedule import StageSpec
    from rsn_tf.training.task import RSNTask

    config = config_lib.override(config_lib.ExperimentConfig(), {"model.preset": "tiny"})
    semantic = StageSpec(name="semantic", summary="", loss="iterative", guidance="semantic")
    task = RSNTask(config, semantic)
    task._builder = _Builder(names)  # the dataset the task trains on
    model = task.build_model()
    assert model.config.semantic_classes == expected
    # Recorded where a saved model is rebuilt from (model_config.json is RSNConfig.to_dict()).
    assert RSNConfig.from_dict(model.config.to_dict()).semantic_classes == expected
    # And it sizes the semantic embedding: one row per class plus "unlabelled" (id 0).
    table = model.refinement.semantic_embedding.embeddings
    assert table.shape == (expected + 1, model.config.semantic_embedding_channels)
