"""Thin entry point, kept for ``python export.py ...``: the same as the ``rsn-export`` console script
(rsn_tf/cli/export.py)."""

from rsn_tf.cli.export import console

if __name__ == "__main__":
    console()
