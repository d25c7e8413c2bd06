"""Exceptions that Butler raises on purpose.

Every message names the problem and, where there is one, the fix; the server turns
them into clear answers instead of stack traces.
"""

from __future__ import annotations

import reprlib
from typing import Any

SHOWN_CHARACTERS = 60
"""Error messages and the log repeat at most this much of a bad value."""

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, SHOWN_CHARACTERS, SHOWN_CHARACTERS


def shorten(value: Any, *, quoted: bool = False) -> str:
    """``value`` as text (``quoted``: a string in quotes, as repr does), cut to
    ``SHOWN_CHARACTERS``: a huge or deeply nested bad value is never echoed whole."""
    text = (repr(value) if quoted else value) if isinstance(value, str) else _REPR.repr(value)
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return text[:SHOWN_CHARACTERS] + f"... ({len(text):,} characters)"


class ButlerError(Exception):
    """A problem the user can act on; ``str(exc)`` is shown to them as is."""


class InvalidArguments(ButlerError):
    """A command was called with arguments that do not fit; answered as InvalidParams."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ManifestError(ButlerError):
    """A ``plugin.yaml`` is broken; each problem names the file, the key and what is wrong."""

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = list(problems)
        lines = [f"{file}: {key}: {message}" for key, message in self.problems]
        super().__init__("\n".join(lines) if lines else f"{file}: invalid manifest")


class CapabilityError(ButlerError):
    """Base class for capability registry errors."""


class CapabilityMissing(CapabilityError):
    """A capability was required but nothing provides it."""


class DuplicateCapability(CapabilityError):
    """A second provider offered a capability without asking to replace the first."""


class WriteError(ButlerError):
    """A file could not be written; the old content is intact."""
