"""Thin entry point, kept for ``python train.py ...``: the same as the ``rsn-train`` console script
(rsn_tf/cli/train.py)."""

from rsn_tf.cli.train import console

if __name__ == "__main__":
    console()
