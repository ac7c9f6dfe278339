"""Training: the paper's 5-stage schedule (Section 3.3) on tf.distribute. One job per module:

    stages.py          the schedule as data (StageSpec per stage: loss, switches, initialisation)
    task.py            what a stage builds and minimises: model, inputs, optimizer, losses, steps
    trainer.py         the custom tf.distribute loop: steps, checkpoints, resume, divergence guard
    distribution.py    which strategy, who is chief, where a non-chief worker writes
    initialization.py  where a stage's weights start: earlier stages, ImageNet, or random
    summaries.py       TensorBoard scalars and images

The run and stage directories are rsn_tf/run_dir.py's; evaluation and metrics.json are the
evaluation package's; the experiment config is rsn_tf/config.py; the CLI is rsn_tf/cli/train.py.
"""
