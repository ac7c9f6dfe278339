"""Training throughput (images/s) of the joint stage: 1 device against MirroredStrategy over N.

Each configuration runs in its own process (the CPU is split into logical devices
before TensorFlow starts) on the same random batches of the preset's resolution, so
the input pipeline is not measured, only the training step. The 1-device run is the
baseline in the same invocation.

    python bench/training.py [--preset tiny] [--batch 8] [--steps 20] [--devices 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

CHILD = """
import json, os, sys, time
sys.path.insert(0, {root!r})
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
devices = {devices}
if devices > 1:
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * devices)
from rsn_tf.training.config import TrainConfig, training_defaults
from rsn_tf.training.stages import get_stage
from rsn_tf.training.task import RSNTask
from rsn_tf.training.config import OptimizerConfig
d = training_defaults({preset!r})
config = TrainConfig(batch_size={batch}, preset={preset!r}, optimizer=OptimizerConfig(d["optimizer"], d["learning_rate"]))
task = RSNTask(config, get_stage("joint"))
h, w = task.model_config.height, task.model_config.width
strategy = (tf.distribute.MirroredStrategy([f"CPU:{{i}}" for i in range(devices)]) if devices > 1
            else tf.distribute.get_strategy())
with strategy.scope():
    model = task.build_model()
    optimizer = task.build_optimizer(100)
    optimizer.build(model.trainable_variables)
rng = np.random.default_rng(0)
depth = rng.uniform(1, 6, ({batch}, h, w, 1)).astype(np.float32)
batch = {{"image": rng.uniform(0, 255, ({batch}, h, w, 3)).astype(np.float32), "depth": depth,
         "region_support": depth.round(), "regions": depth.round().astype(np.int32),
         "label": np.ones(({batch}, h, w, 1), np.int32)}}
ds = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch).repeat())
it = iter(ds)

@tf.function
def step(it):
    per = strategy.run(lambda b: task.train_step(b, model, optimizer, tf.constant(True), tf.constant(False)),
                       args=(next(it),))
    return strategy.reduce("SUM", per["total"], axis=None)

for _ in range(3):
    step(it).numpy()
t0 = time.perf_counter()
for _ in range({steps}):
    step(it).numpy()
print(json.dumps({{"images_per_s": {steps} * {batch} / (time.perf_counter() - t0)}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    results = {}
    for devices in args.devices:
        code = CHILD.format(root=ROOT, devices=devices, preset=args.preset, batch=args.batch, steps=args.steps)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(proc.stderr[-3000:])
        results[devices] = json.loads(proc.stdout.strip().splitlines()[-1])["images_per_s"]
    base = results[args.devices[0]]
    print(
        f"joint-stage training, preset {args.preset}, global batch {args.batch}, {args.steps} timed steps, "
        f"{os.cpu_count()} CPU cores"
    )
    for devices, ips in results.items():
        label = "1 device (baseline)" if devices == 1 else f"MirroredStrategy, {devices} logical CPU devices"
        print(f"  {label:<44} {ips:7.2f} images/s   {ips / base:.2f}x")


if __name__ == "__main__":
    main()
