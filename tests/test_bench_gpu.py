"""bench/gpu.py, the GPU benchmark, as a CPU dry run of itself: the process runs end to end (exit 0)
and prints one table row per precision and --remat mode asked for. A smoke test of the script, which no
GPU here runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_the_gpu_benchmark_dry_runs_on_the_cpu_and_prints_its_table():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "gpu.py"), "--dry_run", "--xla=off", "--precisions=float32"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "bf16 matmul 512^3:" in out.stdout
    rows = re.findall(
        r"^\| tiny \| 48x64 \| (\S+) \| off \| (\S+) \| ([\d.]+) \| (\d+) \| ([\d.]+) GiB .*"
        r"\| ([\d.]+) \| ([\d.]+) \|$",
        out.stdout,
        re.M,
    )
    # The precision asked for, and only it, without and with gradient checkpointing (the default modes).
    assert [r[:2] for r in rows] == [("float32", "none"), ("float32", "all")], out.stdout
    for _, _remat, images_s, epoch_s, memory, latency_ms, _fraction in rows:
        # Measured figures, so only their presence and sign can be asserted; the bench's own
        # arithmetic (epoch time from images/s, fractions of peak) is not re-checked here.
        assert float(images_s) > 0 and int(epoch_s) > 0 and float(memory) > 0 and float(latency_ms) > 0
