"""Test-wide setup: keep TensorFlow quiet, and order the suite for two xdist workers on 2-core CI machines."""

import collections
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def pytest_collection_modifyitems(config, items):
    """Modules with the most slow tests first, each module's tests kept together.

    With ``-n 2 --dist load --maxschedchunk 1`` (pyproject) the long trainer scenarios start at once on both workers
    and the quick tests fill in at the end, instead of one 5-minute scenario starting last and
    running alone. A module's tests stay together, though a module split across both workers builds its
    module-scoped fixtures on each (BENCHMARKS.md, Test suite time).
    """
    slow = collections.Counter(item.module.__name__ for item in items if item.get_closest_marker("slow"))
    first_seen = {}
    for index, item in enumerate(items):
        first_seen.setdefault(item.module.__name__, index)
    items.sort(key=lambda item: (-slow[item.module.__name__], first_seen[item.module.__name__]))
