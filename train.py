"""Thin entry point, kept for ``python train.py ...``: the same as the ``rsn-train`` console script
(rsn_tf/cli/train.py)."""

import sys

from rsn_tf.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
