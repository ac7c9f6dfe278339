"""Strategy and runtime set-up: which tf.distribute strategy, and who is chief.

MultiWorkerMirroredStrategy when TF_CONFIG is set, MirroredStrategy over several local
GPUs (or over a CPU split into logical devices, for tests), else the default strategy.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from rsn_tf.errors import UserError

__all__ = [
    "EXIT_WORKER_LOST",
    "DistributionError",
    "dataset_builder_worker",
    "split_cpu",
    "make_strategy",
    "strategy_name",
    "is_chief",
]


class DistributionError(UserError, RuntimeError):
    """The requested distribution cannot be set up; the message says how to fix it."""


def split_cpu(devices: int) -> None:
    """Split the physical CPU into ``devices`` logical devices. Must run before TF initialises."""
    if devices > 1:
        cpus = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * devices)


# Exit status of a worker whose peer died or stalled past the timeouts (42 is preemption).
EXIT_WORKER_LOST = 43


def _configure_worker_health(heartbeat_timeout_s: float) -> None:
    """TF's coordination service, as MultiWorkerMirroredStrategy would set it up, with our heartbeat timeout.

    MultiWorkerMirroredStrategy configures the service with TF's default heartbeat timeout
    (10 s) unless one is configured already; on a busy 2-core machine a starved worker missed
    that and the job died (``CollectiveBcastSend ... Restart your program``). There is no public
    API for the timeout, so this uses the context's (internal, stable since TF 2.9) method; the
    strategy then keeps our configuration.
    """
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context

    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    spec = resolver.cluster_spec()
    if resolver.task_type not in ("chief", "worker") or context.context().coordination_service is not None:
        return
    jobs = [
        coordination_config_pb2.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job))
        for job in ("chief", "worker")
        if job in spec.jobs
    ]
    leader = "/job:chief/replica:0/task:0" if "chief" in spec.jobs else "/job:worker/replica:0/task:0"
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=leader,
        coordinated_jobs=jobs,
        heartbeat_timeout_in_ms=int(heartbeat_timeout_s * 1000),
    )


def make_strategy(
    cpu_devices: int = 1, heartbeat_timeout_s: float = 60.0, collective_timeout_s: float | None = 1800.0
) -> tf.distribute.Strategy:
    """MultiWorkerMirrored when TF_CONFIG is set, Mirrored over several GPUs (or split CPUs), else default.

    Multi-worker: a worker silent for ``heartbeat_timeout_s`` is declared dead, and one
    all-reduce waits at most ``collective_timeout_s``; either stops the survivors with an error
    (the trainer turns it into ``WorkerLostError``, exit 43) instead of a hang.
    """
    if os.environ.get("TF_CONFIG"):
        _configure_worker_health(heartbeat_timeout_s)
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout_s)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    if cpu_devices > 1:
        cpus = tf.config.list_logical_devices("CPU")
        if len(cpus) < cpu_devices:
            raise DistributionError(
                f"--cpu_devices={cpu_devices} but only {len(cpus)} logical CPU device(s) exist; the CPU must be "
                "split before TensorFlow starts (rsn-train does this when the flag is given on the command line)"
            )
        return tf.distribute.MirroredStrategy([d.name for d in cpus[:cpu_devices]])
    return tf.distribute.get_strategy()


def strategy_name(strategy: tf.distribute.Strategy) -> str:
    """The public name (MultiWorkerMirroredStrategy's class is CollectiveAllReduceStrategy)."""
    for name in ("MultiWorkerMirroredStrategy", "MirroredStrategy"):
        if isinstance(strategy, getattr(tf.distribute, name)):
            return name
    return "default strategy"


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


def dataset_builder_worker() -> str | None:
    """Who builds a missing dataset, as seen from this process: None when it is this process (no
    TF_CONFIG, or this is the chief), else the chief's name, for which this worker waits.

    Read from TF_CONFIG, so that it is known before the strategy exists (rsn-train prepares the
    dataset first, and two workers building the same files at once corrupt them).
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        spec = json.loads(raw)
        task = spec.get("task", {})
        cluster = spec.get("cluster", {})
    except (ValueError, AttributeError) as error:
        raise DistributionError(f"TF_CONFIG is not valid JSON with 'cluster' and 'task': {error}") from error
    if "chief" in cluster:
        return None if task.get("type") == "chief" else "the chief"
    return None if task.get("type") in (None, "worker") and int(task.get("index", 0)) == 0 else "the chief (worker 0)"
