"""rsn-train: the paper's 5-stage schedule (Section 3.3) on tf.distribute.

    rsn-train --stage=joint                      # the demo: synthetic data, tiny preset, CPU
    rsn-train --stage=all --preset=paper --dataset=nyu_region_support/merged --batch_size=16
    rsn-train --config=runs/rsn/config.yaml --model_dir=runs/rsn_replay   # replay a run's config

    rsn-train --init_from=runs/rsn --dataset=rgbd_folder --manual_dir=~/my_rgbd --model_dir=runs/mine \
        --freeze=generation                      # fine-tune a trained run on your own frames

Stages: generation, refinement, refine_frozen_generation, generation_frozen_refinement,
joint, or all (the five in order). Every stage initialises from the earlier stages'
weights in --model_dir (or, with --init_from, from the parent: a run dir, a stage dir or
a .keras file, checked to fit --preset before any work and recorded in config.yaml),
resumes from its own latest checkpoint, logs TensorBoard summaries and writes
metrics.json. The resolved config goes to <model_dir>/config.yaml (and to each stage
dir). Distribution: MultiWorkerMirroredStrategy when TF_CONFIG is set, MirroredStrategy
over all local GPUs, the default strategy on CPU.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from rsn_tf.cli import common

FLAGS = common.new_flag_values()
CONFIG_FLAGS = common.define_config_flags(FLAGS)


def _train(positionals: list[str]) -> int:
    if positionals:
        raise common.CliError(f"unexpected argument(s) {positionals}; every option is a --flag")
    from absl import logging as absl_logging

    from rsn_tf import config as config_lib
    from rsn_tf.schedule import ALL, STAGE_ORDER, get_stage

    config = common.config_from_flags(FLAGS, CONFIG_FLAGS)
    stages = STAGE_ORDER if config.task.stage == ALL else (config.task.stage,)
    from rsn_tf.training.initialization import FineTuningError, check_fits, check_freeze, with_parent

    for stage in stages:
        check_freeze(get_stage(stage), config.task.freeze)  # a bad --stage or --freeze fails before TensorFlow starts
    if config.model.init_from and config.task.stage == ALL:
        raise FineTuningError(
            f"--init_from={config.model.init_from} with --stage={ALL}: fine-tuning trains one stage from the parent. "
            "Give one --stage (joint trains both modules; --freeze keeps one fixed)."
        )
    # A missing or corrupt parent fails here, before TensorFlow starts and before any dataset or model
    # is built; the parent is recorded in the config (so in config.yaml and the run's identity).
    config, parent = with_parent(config)

    if config.runtime.deterministic:  # TensorFlow reads these when it is imported: set them before
        from rsn_tf.hardware import DETERMINISTIC_ENV

        for name, value in DETERMINISTIC_ENV.items():
            os.environ.setdefault(name, value)  # one set by hand wins; the Trainer warns about it
    absl_logging.set_verbosity(absl_logging.WARNING)  # TFDS logs every dataset construction at INFO
    from rsn_tf.training.distribution import dataset_builder_worker, split_cpu

    split_cpu(config.runtime.cpu_devices)  # must happen before TensorFlow initialises its devices
    import keras

    if parent is not None:  # the parent's network must be this preset's, field by field
        from rsn_tf.models import get_preset

        check_fits(parent, get_preset(config.model.preset).to_dict(), config.model.preset)

    from rsn_tf.data import prepare_builder
    from rsn_tf.run_dir import RunDir
    from rsn_tf.training.trainer import Trainer

    keras.utils.set_random_seed(config.trainer.seed)
    # The strategy first: MultiWorkerMirroredStrategy must configure collectives before anything
    # starts TensorFlow's runtime, and building a dataset does.
    trainer = Trainer(config, parent=parent)
    # Then the dataset: a run that cannot start (dataset missing, or built from another folder)
    # must leave an existing run dir's config.yaml as it was. With several workers, only the
    # chief builds a missing dataset; the others wait for it.
    prepare_builder(
        config.data.dataset,
        config.data.data_dir,
        config.data.manual_dir,
        builder_worker=dataset_builder_worker(),
        wait_timeout_s=config.data.dataset_wait_timeout_s,
    )
    run = RunDir(config.trainer.model_dir)
    if trainer.chief:
        config_lib.save_file(config, run.config_path)
    results = trainer.run_all(stages)

    last = stages[-1]
    print(f"\nDone. Stage '{last}': checkpoints, weights, TensorBoard logs and metrics.json in {run.stage(last).path}/")
    print(f"  Config: {run.config_path}  (replay: rsn-train --config={run.config_path})")
    print(f"  TensorBoard: tensorboard --logdir {run.path}")
    m = results[last]["metrics"]
    print(
        f"  test: abs_rel {m['abs_rel']:.3f}, rmse {m['rmse']:.3f} m, delta1 {m['delta1']:.3f} "
        f"({m['num_images']} images)"
    )
    if config.trainer.export and trainer.chief:
        from rsn_tf.model_loading import load_model
        from rsn_tf.serving.bundle import run_provenance
        from rsn_tf.serving.exporter import export_saved_model

        # Export what was saved (weights + config), exactly as rsn-export --model_dir would, with the
        # same serving bundle (where it was trained, on what, from which parent, and how it scored).
        stage = last if run.stage(last).serves_images else None
        model = load_model(run.path, stage=stage)
        path = export_saved_model(model, config.trainer.export_base, "rsn", provenance=run_provenance(run.path, stage))
        print(f"  SavedModel for TF Serving: {path}  (rsn-export --model_dir={run.path} does the same)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # UserError covers TrainingError and DistributionError; bad values (ValueError) and missing
    # datasets or stages (DatasetNotBuiltError, RunDirError: FileNotFoundError) say how to fix them.
    return common.run(_train, FLAGS, __doc__, argv, program="rsn-train", errors=(ValueError, FileNotFoundError))


console = common.console_entry(main)

if __name__ == "__main__":
    console()
