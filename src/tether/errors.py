"""One exception hierarchy: every error tether raises on purpose is a :class:`TetherError`.

Messages say what is wrong and what to do about it. Errors about a user's input name the file,
the line (or row) and the field, so that ``tether ingest`` can print one actionable line.
"""

from __future__ import annotations

from pathlib import Path


class TetherError(Exception):
    """Base class of every error tether raises on purpose (CLI exit code 2)."""

    exit_code = 2


class InputError(TetherError):
    """A file or value given by the user is malformed.

    Example:
        >>> str(InputError("origin must be real or synthetic", path="a.jsonl", line=3, field="origin"))
        'a.jsonl, line 3, field origin: origin must be real or synthetic'
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.row = row
        self.field = field
        where = []
        if self.path:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        if row is not None:
            where.append(f"row {row}")
        if field:
            where.append(f"field {field}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class NotFoundError(TetherError):
    """A dataset, sample, run or file that was asked for does not exist."""


class StoreError(TetherError):
    """The store cannot do what was asked (conflicting ids, a locked or incompatible file)."""


class PolicyError(TetherError):
    """A policy file is malformed."""


class GenerationError(TetherError):
    """A generator could not run (bad configuration, unreachable endpoint)."""
