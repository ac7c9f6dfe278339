"""The trainer: the paper's 5-stage schedule on tf.distribute (see train.py)."""
