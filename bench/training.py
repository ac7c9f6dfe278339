"""Training throughput (images/s) of the joint stage: 1 device against MirroredStrategy over N.

Each configuration runs in its own process (the CPU is split into logical devices
before TensorFlow starts) on the same random batches of the preset's resolution, so
the input pipeline is not measured, only the training step. The 1-device run is the
baseline in the same invocation.

    python bench/training.py [--preset=tiny] [--batch=8] [--steps=20] [--devices=1,2]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from absl import flags

from rsn_tf.cli import common

CHILD = """
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
devices = {devices}
if devices > 1:
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * devices)
from rsn_tf import config as config_lib
from rsn_tf.schedule import get_stage
from rsn_tf.training.task import RSNTask
config = config_lib.resolve(flag_values={{"model.preset": {preset!r}, "data.batch_size": {batch}}})
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


FLAGS = common.new_flag_values()
flags.DEFINE_string("preset", "tiny", "Preset.", flag_values=FLAGS)
flags.DEFINE_integer("batch", 8, "Batch.", flag_values=FLAGS)
flags.DEFINE_integer("steps", 20, "Steps.", flag_values=FLAGS)
flags.DEFINE_list("devices", [str(d) for d in [1, 2]], "Devices.", flag_values=FLAGS)


def main(positionals: list[str]) -> int:
    results = {}
    device_counts = [int(d) for d in FLAGS.devices]
    for devices in device_counts:
        code = CHILD.format(devices=devices, preset=FLAGS.preset, batch=FLAGS.batch, steps=FLAGS.steps)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(proc.stderr[-3000:])
        results[devices] = json.loads(proc.stdout.strip().splitlines()[-1])["images_per_s"]
    base = results[device_counts[0]]
    print(
        f"joint-stage training, preset {FLAGS.preset}, global batch {FLAGS.batch}, {FLAGS.steps} timed steps, "
        f"{os.cpu_count()} CPU cores"
    )
    for devices, ips in results.items():
        label = "1 device (baseline)" if devices == 1 else f"MirroredStrategy, {devices} logical CPU devices"
        print(f"  {label:<44} {ips:7.2f} images/s   {ips / base:.2f}x")

    return 0


if __name__ == "__main__":
    sys.exit(common.run(main, FLAGS, __doc__, program="bench/training.py"))
