"""What this machine computes fast: the CPU's bfloat16 instructions, and whether oneDNN uses them.

TensorFlow runs bfloat16 convolutions, pooling and batch norm through oneDNN on CPUs with
AMX-BF16 or AVX512-BF16, 2-3x faster than float32 (BENCHMARKS.md). Elsewhere (AVX2 CPUs such
as many AMD EPYCs, or with TF_ENABLE_ONEDNN_OPTS=0) bfloat16 goes through Eigen's generic
kernels: slower than float32, and some of them sum in bfloat16.
"""

from __future__ import annotations

import functools
import os

__all__ = ["BF16_CPU_FEATURES", "DETERMINISTIC_ENV", "cpu_bf16_features", "onednn_enabled", "native_bf16"]

# What --deterministic needs TensorFlow to read when it is imported (so rsn-train sets it first):
# oneDNN's reordering optimisations off, and one inter-op thread. With two inter-op threads, ops
# that may run concurrently made the train step's gradients differ in the last bits in 6 of 7
# replays on a 2-core EPYC (the forward pass and BN statistics were identical); with one, 0 of 6
# (BENCHMARKS.md, "Deterministic replays"). Intra-op threads are not the cause and stay as they are.
DETERMINISTIC_ENV = {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTEROP_THREADS": "1"}

# /proc/cpuinfo flag -> its usual name.
BF16_CPU_FEATURES = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16"}


@functools.cache
def cpu_bf16_features() -> tuple[str, ...]:
    """The CPU's bfloat16 features (usual names), from /proc/cpuinfo; empty where it cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return tuple(name for flag, name in BF16_CPU_FEATURES.items() if flag in flags)
    except OSError:
        pass
    return ()


def onednn_enabled() -> bool:
    """oneDNN's kernels are on unless TF_ENABLE_ONEDNN_OPTS=0 (read when TensorFlow is imported)."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0"


def native_bf16() -> bool:
    """True when TensorFlow's CPU kernels run bfloat16 natively here (oneDNN on a bf16 CPU)."""
    return bool(cpu_bf16_features()) and onednn_enabled()
