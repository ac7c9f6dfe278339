"""A baseline commit's package tree for benchmarks that time it beside this one.

``export_tree(commit, into)`` unpacks ``rsn_tf`` and ``tfds_nyu`` at ``commit`` (``git archive``)
into ``into``; a child process with ``PYTHONPATH=into`` then runs the baseline's code.
"""

from __future__ import annotations

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def export_tree(commit: str, into: str) -> str:
    """The package at ``commit``, unpacked into ``into`` (created if missing); returns ``into``."""
    os.makedirs(into, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", ROOT, "archive", commit, "rsn_tf", "tfds_nyu"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return into
