"""New daily notes from a template: placeholders, carried-over tasks, the previous note.

Pure: works on template text, note text and lists of relative paths; reads no files.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from pathlib import PurePath

from .entries import scan_fences

DEFAULT_TEMPLATE = "# {{date}} {{weekday}}\n\n{{links}}\n\n## Log\n"

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# A format may hold anything but braces and line breaks, so "{{ {{date}}" still finds
# the second placeholder and a stray "{{" never swallows the rest of the template.
_PLACEHOLDER = re.compile(r"\{\{[ \t]*([A-Za-z_]+)[ \t]*(?::([^{}\n]*?))?[ \t]*\}\}")
_TASK = re.compile(r"[ \t]*[-*] \[ \] ")
_NOTE_SUFFIXES = (".md", ".markdown")


def note_name(relative_path: str) -> str:
    """The ``[[link]]`` name of a note: its posix relative path without ``.md``."""
    posix = PurePath(relative_path).as_posix()
    for suffix in _NOTE_SUFFIXES:
        if posix.lower().endswith(suffix):
            return posix[: -len(suffix)]
    return posix


def render(
    template: str,
    *,
    date: dt.date,
    previous: str | None,
    next_name: str,
    tasks: list[str],
) -> str:
    """The template with its placeholders filled; unknown ones are left as they are."""
    # Tasks are joined with the template's own line break, so a CRLF template stays CRLF.
    newline = "\r\n" if "\r\n" in template else "\n"
    values = {
        "weekday": _WEEKDAYS[date.weekday()],
        "previous": f"[[{previous}]]" if previous else "",
        # Both neighbours, without a dangling separator when there is no previous note.
        "links": " · ".join(
            link
            for link in (
                f"← [[{previous}]]" if previous else "",
                f"[[{next_name}]] →" if next_name else "",
            )
            if link
        ),
        "next": f"[[{next_name}]]" if next_name else "",
        "tasks": newline.join(tasks),
    }

    def fill(match: re.Match[str]) -> str:
        name, pattern = match[1], match[2]
        if name == "date":
            if not pattern or not pattern.strip():
                return date.isoformat()
            try:
                return date.strftime(pattern.strip())
            except (ValueError, UnicodeError):
                return match[0]
        if pattern is None and name in values:
            return values[name]
        return match[0]

    # One pass: text that a placeholder brings in (a task, a name) is never expanded again.
    return _PLACEHOLDER.sub(fill, template)


def unfinished_tasks(note_text: str) -> list[str]:
    """The unchecked ``- [ ]`` / ``* [ ]`` task lines of a note, indentation kept."""
    lines = [line.removesuffix("\r") for line in note_text.split("\n")]
    fenced, _ = scan_fences(lines)
    return [
        line
        for line, in_code in zip(lines, fenced, strict=True)
        if not in_code and _TASK.match(line)
    ]


def date_of(relative_path: str, filename_format: str) -> dt.date | None:
    """The date whose note ``filename_format`` names ``relative_path``, or None."""
    if _repeats_a_directive(filename_format):
        return _date_of_repeated(relative_path, filename_format)
    try:
        return dt.datetime.strptime(relative_path, filename_format).date()
    except Exception:
        return None


@functools.lru_cache(maxsize=32)
def _repeats_a_directive(filename_format: str) -> bool:
    directives = [d for d in re.findall(r"%.", filename_format) if d != "%%"]
    return len(set(directives)) != len(directives)


def _date_of_repeated(relative_path: str, filename_format: str) -> dt.date | None:
    # strptime cannot read a format that repeats a directive (%Y/%m/%Y-%m-%d.md): read
    # one path segment at a time and keep a date only if it gives back the whole path.
    pattern_parts = filename_format.split("/")
    path_parts = relative_path.split("/")
    if len(pattern_parts) != len(path_parts):
        return None
    for pattern, part in reversed(list(zip(pattern_parts, path_parts, strict=True))):
        try:
            candidate = dt.datetime.strptime(part, pattern).date()
            if candidate.strftime(filename_format) == relative_path:
                return candidate
        except Exception:
            continue
    return None


def find_previous(relative_paths: Iterable[str], filename_format: str, date: dt.date) -> str | None:
    """The relative path of the latest note strictly before ``date``, or None."""
    best: dt.date | None = None
    candidates: list[str] = []
    for path in relative_paths:
        found = date_of(path, filename_format)
        if found is None or found >= date or (best is not None and found < best):
            continue
        if found != best:
            best, candidates = found, []
        candidates.append(path)
    if best is None:
        return None
    # strptime also reads 2026-1-5.md; the name Butler itself would write wins a tie.
    canonical = best.strftime(filename_format)
    return canonical if canonical in candidates else min(candidates)
