"""Transcript output formats: plain text, SubRip (SRT), WebVTT and JSON.

Pure string work on timed segments; what the transcriber returns is rendered here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import attrs

from butler_ls.job_api import ButlerError

__all__ = ["FORMATS", "Segment", "normalize_format", "render"]

FORMATS = ("text", "srt", "vtt", "json")
"""The transcript formats ``render`` writes; ``txt`` is accepted as another name for ``text``."""

_ALIASES = {"txt": "text", "webvtt": "vtt", "subrip": "srt"}

PARAGRAPH_GAP = 2.0
"""Seconds of silence between two segments that start a new paragraph in the text format."""


@attrs.frozen
class Segment:
    """A stretch of speech and its words, as a speech model returns it."""

    start: float
    """Seconds from the start of the audio where the speech begins."""

    end: float
    """Seconds from the start of the audio where the speech ends."""

    text: str
    """What was said; surrounding whitespace does not matter."""


def normalize_format(name: str) -> str:
    """The canonical name of a transcript format (``TXT``, ``.srt`` and ``txt`` work too)."""
    key = str(name).strip().lower().lstrip(".")
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise ButlerError(
            f"unknown transcript format {name!r}; use one of: {', '.join(FORMATS)} (or txt)"
        )
    return key


def render(
    segments: Sequence[Segment],
    fmt: str,
    *,
    language: str | None = None,
    duration: float | None = None,
) -> str:
    """Render ``segments`` as a document in format ``fmt`` (see ``FORMATS``).

    Segments whose text is blank are left out of every format. Times below zero become
    zero and an end before its start becomes the start, so players never choke on a cue.
    """
    fmt = normalize_format(fmt)
    cues = _clean(segments)
    if fmt == "text":
        text = _plain_text(cues)
        return f"{text}\n" if text else ""
    if fmt == "srt":
        blocks = [
            f"{number}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n{text}\n"
            for number, (start, end, text) in enumerate(cues, 1)
        ]
        return "\n".join(blocks)
    if fmt == "vtt":
        blocks = [
            f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n{_vtt_text(text)}\n"
            for start, end, text in cues
        ]
        return "WEBVTT\n\n" + "\n".join(blocks)
    document = {
        "language": language,
        "duration": None if duration is None else _ms(duration) / 1000,
        "text": _plain_text(cues),
        "segments": [
            {"start": start / 1000, "end": end / 1000, "text": text} for start, end, text in cues
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _clean(segments: Sequence[Segment]) -> list[tuple[int, int, str]]:
    """(start ms, end ms, text) for each segment with words, times made sane."""
    cues = []
    for segment in segments:
        # A blank line ends a cue in SRT and VTT, so lines inside one cue stay together.
        lines = [" ".join(line.split()) for line in str(segment.text).splitlines()]
        text = "\n".join(line for line in lines if line)
        if not text:
            continue
        start = _ms(segment.start)
        cues.append((start, max(start, _ms(segment.end)), text))
    return cues


def _plain_text(cues: list[tuple[int, int, str]]) -> str:
    parts: list[str] = []
    previous_end: int | None = None
    for start, end, text in cues:
        if previous_end is not None:
            gap = (start - previous_end) / 1000
            parts.append("\n\n" if gap > PARAGRAPH_GAP else " ")
        parts.append(" ".join(text.split()))
        previous_end = end
    return "".join(parts)


def _ms(seconds: float) -> int:
    """Whole milliseconds, rounded half up; negative and non-finite times become 0."""
    value = float(seconds)
    if not math.isfinite(value) or value <= 0:
        return 0
    return math.floor(value * 1000 + 0.5)


def _timestamp(ms: int, separator: str) -> str:
    """``HH:MM:SS,mmm`` (SRT) or ``HH:MM:SS.mmm`` (VTT); hours grow past two digits if needed."""
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def _vtt_text(text: str) -> str:
    # WebVTT cue text is markup: a bare "<" or "&" starts a tag or an entity, "-->" ends it.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
