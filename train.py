"""RSN-TF trainer: ``python train.py --stage=...`` (the paper's 5-stage schedule).

The trainer lands with the trainer issue. Until then this entry point only says so,
so that the README's demo command gives a clear answer instead of an ImportError.
"""

from __future__ import annotations

import sys


def main() -> int:
    print(
        "train.py: the trainer is coming with the trainer issue (stages generation, refinement, "
        "refine_frozen_generation, generation_frozen_refinement, joint, all).\n"
        "Available today: rsn_tf.region_support (Algorithm 1), rsn_tf.losses (L2, Lr, Li, Lc) and "
        "rsn_tf.metrics; run the tests with: .venv/bin/python -m pytest",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
