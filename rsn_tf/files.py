"""Atomic file writes: a reader never sees half a file, and two writers never share a temporary name.

Every file RSN-TF writes that another process may read while it is written (manifests, configs,
run identities, predictions) goes through here. The temporary name carries a random part, not the
process id: two workers on two machines sharing a run dir can have the same pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_write_json"]


def atomic_write(path: str, write: Callable[[str], object]) -> None:
    """``write(tmp_path)`` then rename to ``path``; the temporary file keeps the extension (for cv2)."""
    head, tail = os.path.split(path)
    tmp = os.path.join(head, f".{tail}.partial-{uuid.uuid4().hex[:12]}{os.path.splitext(tail)[1]}")
    try:
        if write(tmp) is False:  # cv2.imwrite reports failure by returning False
            raise OSError(f"{path}: could not be written")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def atomic_write_bytes(path: str, data: bytes) -> None:
    """``data`` into ``path``, complete or not at all."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    atomic_write(path, write)


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str, document: Any) -> None:
    atomic_write_text(path, json.dumps(document, indent=2) + "\n")
