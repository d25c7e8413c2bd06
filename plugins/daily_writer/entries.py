"""Where an entry goes inside a note: formatting it and finding the end of its section.

Pure text computation, shared by the on-disk writer and the edit sent to an open buffer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import attrs

from butler_ls.plugin_api import ButlerError, InvalidArguments

DEFAULT_SECTION = "Log"
DEFAULT_ENTRY_FORMAT = "- {time:%H:%M} {text}"
MAX_SECTION_LENGTH = 200
CONTINUATION_INDENT = "  "

# Only column-0 headings count: an entry's continuation lines are indented, so an entry
# that contains "## x" can never open a section of its own.
_HEADING = re.compile(r"(#{1,6})(?:[ \t]+(.*?))?[ \t]*")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+$")
# Fences inside list items are indented, so any indentation opens one.
_FENCE_OPEN = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_DRIVE = re.compile(r"[A-Za-z]:[\\/]")


@attrs.frozen
class Insertion:
    """Text to insert into a note at one place."""

    offset: int
    """Character offset into the note (a Python ``str`` index, not UTF-16)."""

    text: str
    """What to insert there; ends with the note's newline unless it is empty."""


def format_entry(entry_format: str, text: str, when: dt.datetime) -> str:
    """One entry from ``notes.entryFormat``; a multi-line text stays one list item."""
    if not isinstance(text, str):
        raise InvalidArguments(
            f"text: {text!r} is not text; give the entry as a string", field="text"
        )
    if not text.strip():
        raise InvalidArguments("text: the entry is empty; give some text to append", field="text")
    # Each line is stripped so dictated pauses and pasted indentation cannot turn a
    # continuation line into a code block; the two-space indent keeps it in the item.
    lines = [line.strip() for line in _NEWLINES.split(text.strip())]
    body = lines[0] + "".join(
        "\n" + (CONTINUATION_INDENT + line if line else "") for line in lines[1:]
    )
    try:
        return entry_format.format(time=when, text=body)
    except (KeyError, ValueError, IndexError, AttributeError, TypeError) as exc:
        raise ButlerError(
            f"notes.entryFormat {entry_format!r} does not work: {_format_problem(exc)}; "
            f"use the fields {{time}} and {{text}}, as the default {DEFAULT_ENTRY_FORMAT!r} does"
        ) from None


def _format_problem(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"unknown field {{{exc.args[0]}}}"
    if isinstance(exc, IndexError):
        return "positional fields such as {} or {0} are not allowed"
    return str(exc)


def check_section(section: str | None) -> str:
    """The heading text that ``section`` names; None or "" is ``Log``; paths are refused."""
    if section is None:
        return DEFAULT_SECTION
    if not isinstance(section, str):
        raise InvalidArguments(
            f"section: {section!r} is not text; give a heading such as 'Log'", field="section"
        )
    name = section.strip().lstrip("#").strip()
    if not name:
        return DEFAULT_SECTION
    if "\n" in name or "\r" in name:
        raise InvalidArguments(
            "section: a section is one heading line inside the note; remove the line break",
            field="section",
        )
    if len(name) > MAX_SECTION_LENGTH:
        raise InvalidArguments(
            f"section: {len(name)} characters is too long for a heading; "
            f"use at most {MAX_SECTION_LENGTH}",
            field="section",
        )
    if _looks_like_path(name):
        raise InvalidArguments(
            f"section: {name!r} looks like a path; a section is a heading inside the note "
            "(such as 'Log'), not a path",
            field="section",
        )
    return name


def _looks_like_path(name: str) -> bool:
    return (
        name == ".."
        or "../" in name
        or "..\\" in name
        or "/.." in name
        or name.startswith(("/", "\\"))
        or _DRIVE.match(name) is not None
    )


@attrs.frozen
class _Line:
    start: int
    content: str  # without the line break
    end: int  # offset just after the line break, or len(note) for a last unterminated line
    terminated: bool


def _split(note: str) -> list[_Line]:
    # Only "\n" ends a line here (a "\r" before it is part of the break): str.splitlines
    # would also split on form feeds and U+2028, which editors show inside one line.
    lines = []
    start = 0
    while start < len(note):
        newline = note.find("\n", start)
        if newline < 0:
            lines.append(_Line(start, note[start:], len(note), False))
            break
        content = note[start:newline]
        lines.append(_Line(start, content.removesuffix("\r"), newline + 1, True))
        start = newline + 1
    return lines


def scan_fences(lines: Sequence[str]) -> tuple[list[bool], str | None]:
    """Which lines are inside fenced code (delimiters included), and the fence left open."""
    inside = []
    fence: str | None = None
    for line in lines:
        if fence is None:
            match = _FENCE_OPEN.fullmatch(line)
            # A backtick fence's info string cannot hold backticks: ```a``` is inline code.
            if match and not (match[1][0] == "`" and "`" in match[2]):
                fence = match[1]
                inside.append(True)
            else:
                inside.append(False)
        else:
            inside.append(True)
            stripped = line.strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                fence = None
    return inside, fence


def _heading(line: str) -> tuple[int, str] | None:
    match = _HEADING.fullmatch(line)
    if match is None:
        return None
    title = _CLOSING_HASHES.sub("", match[2] or "").strip()
    return len(match[1]), title


@attrs.frozen
class _Section:
    heading: int  # index of the heading line
    end: int  # index of the first line after the section
    last: int  # index of the last non-blank line of the section, or of the heading


def _find_section(lines: list[_Line], fenced: list[bool], section: str) -> _Section | None:
    wanted = check_section(section).casefold()
    for index, line in enumerate(lines):
        heading = None if fenced[index] else _heading(line.content)
        if heading is None or heading[1].casefold() != wanted:
            continue
        level = heading[0]
        end = len(lines)
        for later in range(index + 1, len(lines)):
            other = None if fenced[later] else _heading(lines[later].content)
            if other is not None and other[0] <= level:
                end = later
                break
        last = index
        for inner in range(end - 1, index, -1):
            if lines[inner].content.strip():
                last = inner
                break
        return _Section(index, end, last)
    return None


def _newline_of(note: str) -> str:
    first = note.find("\n")
    return "\r\n" if first > 0 and note[first - 1] == "\r" else "\n"


def _entry_lines(entries: list[str]) -> list[str]:
    return [line for entry in entries for line in _NEWLINES.split(entry)]


def plan_insert(note: str, section: str, entries: list[str]) -> Insertion:
    """Where and what to insert so ``entries`` end the section (created at the end if missing)."""
    if not entries:
        return Insertion(len(note), "")
    newline = _newline_of(note)
    lines = _split(note)
    fenced, open_fence = scan_fences([line.content for line in lines])
    body = "".join(line + newline for line in _entry_lines(entries))
    found = _find_section(lines, fenced, section)
    if found is not None:
        last = lines[found.last]
        prefix = "" if last.terminated else newline
        # The section runs into a fence nobody closed: close it, or the entries become code.
        if open_fence is not None and found.end == len(lines) and fenced[found.last]:
            prefix += open_fence + newline
        return Insertion(last.end, prefix + body)
    prefix = newline if lines and not lines[-1].terminated else ""
    if open_fence is not None:
        prefix += open_fence + newline
    # The new heading gets a blank line above it, unless there is one already.
    ends_blank = not prefix.strip() and bool(lines) and not lines[-1].content.strip()
    if lines and not ends_blank:
        prefix += newline
    return Insertion(len(note), f"{prefix}## {check_section(section)}{newline}{body}")


def apply_insertion(note: str, insertion: Insertion) -> str:
    """``note`` with the insertion made."""
    if not 0 <= insertion.offset <= len(note):
        raise ValueError(f"insertion offset {insertion.offset} is outside the note")
    return note[: insertion.offset] + insertion.text + note[insertion.offset :]


def contains_entries(note: str, section: str, entries: list[str]) -> bool:
    """Whether every entry's lines already stand, one after another, in that section."""
    lines = _split(note)
    fenced, _ = scan_fences([line.content for line in lines])
    found = _find_section(lines, fenced, section)
    if found is None:
        return not entries
    # Editors trim trailing spaces on save; that must not make an entry look new.
    inside = [line.content.rstrip() for line in lines[found.heading + 1 : found.end]]
    for entry in entries:
        wanted = [line.rstrip() for line in _NEWLINES.split(entry)]
        if not any(
            inside[start : start + len(wanted)] == wanted
            for start in range(len(inside) - len(wanted) + 1)
        ):
            return False
    return True
