"""The base of every error a user can fix: the CLIs print its message (which names the file,
field or flag) without a traceback and exit with status 2."""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """A problem the user can fix; the message says what and how."""
