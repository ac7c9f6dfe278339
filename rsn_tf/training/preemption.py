"""Preemption: a SIGTERM from a scheduler becomes a checkpoint at the next step boundary and a
documented exit code, so that running the same command again continues the run.

* One process (one device or MirroredStrategy): ``PreemptionWatcher`` turns SIGTERM into a
  flag; after the step in flight, the trainer saves a checkpoint and raises
  ``TrainingPreempted``, and rsn-train exits with ``EXIT_PREEMPTED``.
* Several workers (MultiWorkerMirroredStrategy): TF's ``PreemptionCheckpointHandler``. The
  worker that gets SIGTERM tells the others through the coordination service; every worker
  saves at the same step and exits with ``EXIT_PREEMPTED``.

The grace period a scheduler must give is one training step plus one checkpoint write
(BENCHMARKS.md and the README give the figures measured here).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

__all__ = ["EXIT_PREEMPTED", "PreemptionWatcher", "multi_worker_handler"]

EXIT_PREEMPTED = 42  # TF's own default for a preempted worker; rsn-train uses it for one process too


class PreemptionWatcher:
    """Records SIGTERM instead of dying; ``requested`` turns true, ``seconds_since`` says when."""

    def __init__(self):
        self.received_at: float | None = None
        self._previous = None
        if threading.current_thread() is threading.main_thread():  # signals only reach the main thread
            self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.received_at is None:
            self.received_at = time.monotonic()
            print("SIGTERM received: saving a checkpoint after the current step.", file=sys.stderr, flush=True)

    @property
    def requested(self) -> bool:
        return self.received_at is not None

    def seconds_since(self) -> float:
        return 0.0 if self.received_at is None else time.monotonic() - self.received_at

    def close(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None


def multi_worker_handler(strategy, manager):
    """TF's PreemptionCheckpointHandler: every worker saves at the same step, then exits EXIT_PREEMPTED."""
    import tensorflow as tf

    def exit_fn() -> None:
        message = (
            f"rsn-train: preempted: every worker saved a checkpoint ({manager.latest_checkpoint}); exiting with "
            f"{EXIT_PREEMPTED}. Start every worker again with the same command to continue.\n"
        )
        os.write(2, message.encode())  # straight to the descriptor: TF may call this off the main thread
        sys.exit(EXIT_PREEMPTED)

    config = tf.distribute.experimental.TerminationConfig(exit_fn=exit_fn, grace_period=0)
    # termination_config by keyword: the third positional parameter is checkpoint_dir.
    return tf.distribute.experimental.PreemptionCheckpointHandler(
        strategy.cluster_resolver, manager, termination_config=config
    )
