"""Train the Region Support Network: the paper's 5-stage schedule (Section 3.3) on tf.distribute.

    python train.py --stage=joint                 # the demo: synthetic data, tiny preset, CPU
    python train.py --stage=all --preset=paper --dataset=nyu_region_support/merged --batch_size=16

Stages: generation, refinement, refine_frozen_generation, generation_frozen_refinement,
joint, or all (the five in order). Every stage initialises from the earlier stages'
weights in --model_dir, resumes from its own latest checkpoint, logs TensorBoard
summaries and writes metrics.json. Distribution: MultiWorkerMirroredStrategy when
TF_CONFIG is set, MirroredStrategy over all local GPUs, the default strategy on CPU.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from rsn_tf.training.stages import ALL, STAGE_ORDER  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("stage", "joint", f"Training stage: one of {', '.join(STAGE_ORDER)}, or '{ALL}' for the five in order.")
flags.DEFINE_string("model_dir", "runs/rsn", "Checkpoints, logs, weights and metrics go to <model_dir>/<stage>/.")
flags.DEFINE_string("preset", "tiny", "Model preset: paper (Table 1, 480x640), small or tiny (CPU demo).")
flags.DEFINE_string("dataset", "nyu_region_support/synthetic", "TFDS name/config, e.g. nyu_region_support/merged.")
flags.DEFINE_string("data_dir", None, "TFDS data dir (default: TFDS's, ~/tensorflow_datasets).")
flags.DEFINE_string("manual_dir", None, "Dir with the NYU .mat files, used when the dataset must be built.")
flags.DEFINE_integer("batch_size", 8, "Global batch size (across all replicas and workers).")
flags.DEFINE_integer("epochs", None, "Epochs per stage (default: 40 for paper/small, 12 for the tiny demo).")
flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch (default: one pass over the training split).")
flags.DEFINE_integer("linear_epochs", 17, "Generation stage: epochs of linear Lr before switching to log Lr (paper: 17).")
flags.DEFINE_enum("optimizer", None, ["sgd", "momentum", "adam"],
                  "Optimizer (default: sgd, the paper's, for paper/small; adam for the tiny CPU demo).")
flags.DEFINE_float("learning_rate", None, "Learning rate (default: the paper's fixed 1e-3; 3e-3 for tiny).")
flags.DEFINE_enum("lr_schedule", None, ["constant", "cosine", "step"],
                  "Learning-rate schedule (default: constant as in the paper; cosine for tiny).")
flags.DEFINE_float("momentum", 0.9, "Momentum for --optimizer=momentum.")
flags.DEFINE_float("clipnorm", None, "Clip each gradient to this norm.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"], "Compute precision.")
flags.DEFINE_boolean("jit_compile", False, "Compile the train step with XLA (faster on GPUs, slower on this CPU).")
flags.DEFINE_integer("checkpoint_every_steps", 50, "Save a checkpoint every N steps (and at the end).")
flags.DEFINE_integer("keep_checkpoints", 3, "Checkpoints kept per stage.")
flags.DEFINE_integer("log_every_steps", 10, "TensorBoard scalars every N steps.")
flags.DEFINE_integer("image_summaries", 2, "Images per TensorBoard image summary (each epoch); 0 disables.")
flags.DEFINE_integer("eval_batches", None, "Evaluate on this many test batches (default: the whole split).")
flags.DEFINE_string("resnet34_weights", None, "Local .npz of ImageNet ResNet34 weights for the generation trunk.")
flags.DEFINE_integer("cpu_devices", 1, "Split the CPU into N logical devices and mirror over them (testing).")
flags.DEFINE_integer("seed", 0, "Seed for data order, augmentation and initialisation.")
flags.DEFINE_float("augment_scale", 1.0, "Training zoom range [1, s], depth divided by the zoom (Eigen et al.); 1 = off.")
flags.DEFINE_boolean("augment_flip", True, "Random horizontal flips (image and every target).")
flags.DEFINE_float("color_jitter", 0.2, "Colour-jitter strength (image only); 0 = off.")
flags.DEFINE_integer("inject_nan_at_step", None, "Fault injection: make the loss NaN at this step (tests).")
flags.DEFINE_boolean("export", True, "After the last stage, export a SavedModel with export.py.")
flags.DEFINE_string("export_base", "export", "Where --export writes <export_base>/rsn/<version>/.")


def main(argv) -> int:
    del argv
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.WARNING)  # TFDS logs every dataset construction at INFO
    from rsn_tf.training.trainer import TrainingError, split_cpu

    split_cpu(FLAGS.cpu_devices)  # must happen before TensorFlow initialises its devices

    import keras

    from rsn_tf.training.config import OptimizerConfig, TrainConfig
    from rsn_tf.training.stages import get_stage
    from rsn_tf.training.trainer import Trainer

    stages = STAGE_ORDER if FLAGS.stage == ALL else (FLAGS.stage,)
    from rsn_tf.training.config import training_defaults

    defaults = training_defaults(FLAGS.preset)
    pick = lambda name: FLAGS[name].value if FLAGS[name].value is not None else defaults[name]  # noqa: E731
    try:
        for stage in stages:
            get_stage(stage)
        keras.utils.set_random_seed(FLAGS.seed)
        config = TrainConfig(
            stage=FLAGS.stage, model_dir=FLAGS.model_dir, preset=FLAGS.preset, dataset=FLAGS.dataset,
            data_dir=FLAGS.data_dir, manual_dir=FLAGS.manual_dir, batch_size=FLAGS.batch_size,
            epochs=pick("epochs"), steps_per_epoch=FLAGS.steps_per_epoch, linear_epochs=FLAGS.linear_epochs,
            optimizer=OptimizerConfig(pick("optimizer"), pick("learning_rate"), pick("lr_schedule"), FLAGS.momentum,
                                      clipnorm=FLAGS.clipnorm),
            precision=FLAGS.precision, jit_compile=FLAGS.jit_compile,
            checkpoint_every_steps=FLAGS.checkpoint_every_steps, keep_checkpoints=FLAGS.keep_checkpoints,
            log_every_steps=FLAGS.log_every_steps, image_summaries=FLAGS.image_summaries,
            eval_batches=FLAGS.eval_batches, resnet34_weights=FLAGS.resnet34_weights,
            cpu_devices=FLAGS.cpu_devices, seed=FLAGS.seed, inject_nan_at_step=FLAGS.inject_nan_at_step,
            augment_scale=FLAGS.augment_scale, augment_flip=FLAGS.augment_flip, color_jitter=FLAGS.color_jitter,
        )
        trainer = Trainer(config)
        results = trainer.run_all(stages)
    except (TrainingError, ValueError, FileNotFoundError) as error:
        print(f"\ntrain.py: {error}", file=sys.stderr)
        return 2
    last = stages[-1]
    where = os.path.join(FLAGS.model_dir, last)
    print(f"\nDone. Stage '{last}': checkpoints, weights, TensorBoard logs and metrics.json in {where}/")
    print(f"  TensorBoard: tensorboard --logdir {FLAGS.model_dir}")
    m = results[last]["test"]
    print(f"  test: abs_rel {m['abs_rel']:.3f}, rmse {m['rmse']:.3f} m, delta1 {m['delta1']:.3f} ({m['num_images']} images)")
    if FLAGS.export and trainer.chief:
        from rsn_tf.serving.exporter import export_saved_model, load_model

        # Export what was saved (weights + config), exactly as export.py --model_dir would.
        model = load_model(FLAGS.model_dir, stage=last if last != "refinement" else None)
        path = export_saved_model(model, FLAGS.export_base, "rsn")
        print(f"  SavedModel for TF Serving: {path}  (python export.py --model_dir={FLAGS.model_dir} does the same)")
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
