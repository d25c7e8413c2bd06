"""Exceptions that Butler raises on purpose.

Every message names the problem and, where there is one, the fix; the server turns
them into clear answers instead of stack traces.
"""

from __future__ import annotations


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
