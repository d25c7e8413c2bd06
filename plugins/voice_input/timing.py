"""When each stage of one dictated utterance finished, and the latency figures built from it.

``butler.dictation.stop`` answers them per utterance; benchmarks/dictation.py reads them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import attrs


@attrs.define
class Timing:
    """When each stage of one utterance finished (monotonic seconds), for the latency figures."""

    index: int
    spoken_end: float = 0.0
    """When its speech ended was heard (monotonic seconds), from the audio's arrival."""
    speech_end: float = 0.0
    """Where its speech ended in the stream (seconds from the start of the audio)."""
    cut: float = 0.0
    spooled: float = 0.0
    applied: float = 0.0
    duration: float = 0.0
    speculative: bool = False
    """Transcribed from the start of the pause, before the cut."""
    early: bool = False
    """Cut before the whole pause, its text being a finished sentence."""
    marks: dict[str, float] = attrs.field(factory=dict)
    """When the job started and ended ("started", "transcribed")."""

    @property
    def transcribed(self) -> float:
        """When the text came back."""
        return self.marks.get("transcribed", self.applied)

    def report(self) -> dict[str, Any]:
        """Stage durations in seconds: vad, spool, queue, model, edit, total; for a
        speculation also asked and back (from the end of speech).

        For a speculative transcription, queue and model count only what was left after
        the cut (often nothing): the total is what the user waits.
        """
        after_spool = max(self.spooled, self.marks.get("started", self.transcribed))
        ms = {
            "vad": self.cut - self.spoken_end,
            "spool": self.spooled - self.cut,
            "queue": max(0.0, after_spool - self.spooled),
            "model": max(0.0, self.transcribed - after_spool),
            "edit": self.applied - max(self.transcribed, self.spooled),
            "total": self.applied - self.spoken_end,
        }
        if "asked" in self.marks:  # a speculation: when it was asked for and was back
            ms["asked"] = self.marks["asked"] - self.spoken_end
            ms["back"] = self.transcribed - self.spoken_end
        return {
            "index": self.index,
            "speech_end_s": round(self.speech_end, 3),
            "duration": round(self.duration, 3),
            "speculative": self.speculative,
            "early": self.early,
            **{key: round(value, 4) for key, value in ms.items()},
        }


def heard_at(arrivals: Iterable[tuple[float, float]], stream_seconds: float) -> float:
    """When the audio at ``stream_seconds`` was heard: its chunk's arrival, less the rest.

    ``arrivals`` holds ``(stream seconds fed so far, monotonic arrival time)`` per chunk.
    """
    for end, arrived in arrivals:
        if end >= stream_seconds:
            return arrived - (end - stream_seconds)
    return time.monotonic()
