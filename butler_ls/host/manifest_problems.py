"""How a manifest problem is worded: the key as a dotted path, the value named briefly, the fix.

Shared by the manifest's checks (manifest.py, manifest_code.py).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import yaml


def yaml_problem(exc: yaml.YAMLError) -> str:
    """Where the YAML is broken and what to do, in one line."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or clip(str(exc).split("\n")[0], 100)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    if mark is None and isinstance(getattr(exc, "position", None), int):
        where = f"character {exc.position + 1}: "  # the reader's errors carry no line
    return f"{where}invalid YAML ({problem}); fix the syntax there"


def expected(key: str, value: object, what: str) -> tuple[str, str]:
    """A problem: ``key`` should be ``what``, and is not."""
    return key, f"expected {what}, got {describe(value)}"


def invalid(key: str, value: object, what: str, hint: str) -> tuple[str, str]:
    """A problem: ``value`` is not a valid ``what``; ``hint`` says what is."""
    return key, f"{describe(value)} is not a valid {what}; use {hint}"


def label(key: object, parent: str = "") -> str:
    """A dotted path for ``key`` under ``parent``; odd keys are quoted so they stay visible."""
    if isinstance(key, str) and key.isprintable() and key.strip() == key and key:
        return f"{parent}.{clip(key)}" if parent else clip(key)
    return f"{parent}[{describe(key)}]"


def clip(text: str, limit: int = 60) -> str:
    """``text``, cut to ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: object) -> str:
    """Name a value for a message without printing a huge or self-referencing structure."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return repr(clip(value))
    if isinstance(value, int):
        return f"the number {value}" if value.bit_length() < 64 else "a very large number"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a value of type {type(value).__name__}"
