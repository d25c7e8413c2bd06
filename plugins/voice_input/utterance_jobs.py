"""How an utterance goes to ``speech.transcribe``: its audio (the spooled WAV, by reference),
the unfinished sentence before it as context, and hotwords: the open documents' words, with
the voice commands when short.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from butler_ls.plugin_api import ButlerError

from .identifiers import closed
from .voice_commands import Rules

if TYPE_CHECKING:
    from .roles import Speech, Transcribed

T = TypeVar("T")

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


def audio_request(speech: Speech, audio: bytes | Path, **options: Any) -> Any:
    """The ``speech.transcribe`` request for an utterance's audio: its spooled WAV (stored
    once: the worker reads it, or it goes through Redis once), else samples in memory
    (16 kHz mono int16) for speech that is not in the spool yet."""
    if isinstance(audio, bytes):
        return speech.Request.of_samples(audio, **options)
    return speech.Request.of_wav(audio, **options)


async def settled(job: Awaitable[T]) -> T | ButlerError:
    """``job``'s result, or its ButlerError as a value: a failed utterance is the session's
    to report (its audio stays in the spool), not a background task's failure to log."""
    try:
        return await job
    except ButlerError as exc:
        return exc


def command_phrases(rules: Rules) -> list[str]:
    """Every phrase of the voice commands: the hotwords of a short utterance."""
    phrases = [*rules.scratch_that, *rules.new_line, *rules.new_paragraph, *rules.punctuation]
    return [*phrases, *rules.casing]


async def transcribe_utterance(
    speech: Speech,
    audio: bytes | Path,
    speech_seconds: float,
    *,
    job_id: str,
    marks: dict[str, float],
    language: str | None,
    language_hint: str | None = None,
    text_so_far: str,
    hotwords: list[str],
    document_words: Sequence[str] = (),
) -> Transcribed:
    """One utterance's job; ``marks`` gets when it started and ended, for the figures.

    ``hotwords`` (the command phrases) go with a short utterance only, ``document_words``
    (see identifiers.py, bounded there) with every one.
    """

    def on_event(message: Any) -> None:
        if message.kind == "started":
            marks.setdefault("started", time.monotonic())

    short = speech_seconds <= SHORT_SPEECH
    document_words = closed(document_words)
    request = audio_request(
        speech,
        audio,
        priority="interactive",
        language=language,
        language_hint=language_hint,
        prompt="" if short else context(text_so_far),
        vocabulary=[*hotwords, *document_words] if short else document_words,
        # The voice detector here already cut the speech out; the model's own
        # (Silero) trimmed soft first words ("And Mr. John...") that 200 ms of
        # pre-roll had kept: 5.5% word errors with it, 4.4% without.
        vad=False,
    )
    try:
        return await speech.transcribe(request, on_event=on_event, job_id=job_id)
    finally:
        marks["transcribed"] = time.monotonic()
