"""How an utterance goes to ``speech.transcribe``: its samples, the unfinished sentence
before it as the model's context, and the voice commands as hotwords when it is short.
"""

from __future__ import annotations

import re
import time
from typing import Any

from .segmenter import SAMPLE_RATE
from .voice_commands import Rules

PROMPT_CHARS = 200
"""At most this much of the text dictated so far goes to the model as context."""

SHORT_SPEECH = 1.6
"""Seconds of speech up to which an utterance is likely a voice command on its own.

Such utterances go to the model without the text so far, which pulls it towards continuing
the sentence ("scratch that" heard as "Crash that"), and with the command phrases as hotwords.
"""

_SENTENCE_END = re.compile(r"[.!?\u2026][\"')\]\u201d\u2019]*(?:\s+|$)")


def context(text: str) -> str:
    """The unfinished sentence at the end of ``text``: the model's context for what follows.

    Only an unfinished sentence: finished ones pulled tiny.en towards their wording and
    style ("ill-disposed" heard as "old supposed", digits as "29340"), tripling the word
    error rate on benchmarks/dictation.py's recordings, while a sentence cut by a pause
    needs its beginning to be continued well.
    """
    tail = text[-PROMPT_CHARS:]
    ends = list(_SENTENCE_END.finditer(tail))
    if ends and ends[-1].end() == len(tail):
        return ""
    return tail[ends[-1].end() :] if ends else tail.lstrip()


def pcm_payload(pcm: bytes) -> dict[str, Any]:
    """The ``speech.transcribe`` audio argument for 16 kHz mono int16 samples."""
    return {"pcm": {"data": pcm, "sampleRate": SAMPLE_RATE, "channels": 1, "format": "s16le"}}


def command_phrases(rules: Rules) -> list[str]:
    """Every phrase of the voice commands: the hotwords of a short utterance."""
    return [*rules.scratch_that, *rules.new_line, *rules.new_paragraph, *rules.punctuation]


async def transcribe_utterance(
    speech: Any,
    pcm: bytes,
    speech_seconds: float,
    *,
    job_id: str,
    marks: dict[str, float],
    language: str | None,
    text_so_far: str,
    hotwords: list[str],
) -> dict[str, Any]:
    """One utterance's job; ``marks`` gets when it started and ended, for the figures."""

    def on_event(message: Any) -> None:
        if message.kind == "started":
            marks.setdefault("started", time.monotonic())

    short = speech_seconds <= SHORT_SPEECH
    try:
        return await speech.transcribe(
            # The voice detector here already cut the speech out; the model's own
            # (Silero) trimmed soft first words ("And Mr. John...") that 200 ms of
            # pre-roll had kept: 5.5% word errors with it, 4.4% without.
            {**pcm_payload(pcm), "vad": False},
            priority="interactive",
            language=language,
            prompt="" if short else context(text_so_far),
            vocabulary=hotwords if short else None,
            on_event=on_event,
            job_id=job_id,
        )
    finally:
        marks["transcribed"] = time.monotonic()
