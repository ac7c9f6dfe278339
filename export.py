"""Thin entry point, kept for ``python export.py ...``: the same as the ``rsn-export`` console script
(rsn_tf/cli/export.py)."""

import sys

from rsn_tf.cli.export import main

if __name__ == "__main__":
    sys.exit(main())
