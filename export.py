"""RSN-TF exporter: versioned SavedModels for TF Serving.

The exporter lands with the export issue; until then this entry point only says so.
"""

from __future__ import annotations

import sys


def main() -> int:
    print("export.py: the SavedModel exporter is coming with the export issue.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
