"""Training: the paper's 5-stage schedule (Section 3.3) on tf.distribute. One job per module:

    task.py            what a stage builds and minimises: model, inputs, optimizer, losses, steps
    optimizers.py      FusedAdam: Keras's Adam with one update kernel per variable
    trainer.py         the custom tf.distribute loop: steps, checkpoints, resume, divergence guard
    distribution.py    which strategy, who is chief, where a non-chief worker writes
    initialization.py  where a stage's weights start: earlier stages, ImageNet, or random
    preemption.py      SIGTERM -> a checkpoint at the next step and exit 42 (one process or many)
    run_identity.py    which run a checkpoint belongs to (a hash of the keys that decide it)
    summaries.py       TensorBoard scalars and images

The schedule as data (a StageSpec per stage) is rsn_tf/schedule.py; the run and stage
directories are rsn_tf/run_dir.py's; evaluation and metrics.json are the
evaluation package's; the experiment config is rsn_tf/config.py; the CLI is rsn_tf/cli/train.py.
"""
