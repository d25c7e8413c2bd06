"""``butler/dictationState``: what a running session tells the editor about itself, about ten
times a second (state, level, pending utterances, provisional text, language, where it
writes), and ``butler.dictation.stop``'s answer."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


def dictation_state(session: Any, level: float) -> dict[str, Any]:
    """The notification's parameters for ``session`` (a ``DictationSession``) now."""
    state: dict[str, Any] = {
        "sessionId": session.id,
        "state": session.state,
        "pending": session.pending,
        "target": session.target,
        "source": session.source.kind,
        "partial": session.partial,
    }
    if session.state == "listening":
        state["level"] = round(level, 1)
    if session.languages.current:
        state["language"] = session.languages.current
        if session.languages.heard:
            state["languageDetected"] = True
    if session.message:
        state["message"] = session.message
    if session.anchor is not None:
        state["uri"] = session.anchor.uri
        position = session.anchor.position()
        if position is not None:
            state["position"] = {"line": position.line, "character": position.character}
    return state


def stop_answer(session: Any) -> dict[str, Any]:
    """``butler.dictation.stop``'s answer: the text, and how long each utterance took."""
    answer: dict[str, Any] = {
        "sessionId": session.id,
        "text": session.text.strip(),
        "utterances": [timing.report() for timing in session.timings if timing.applied],
        # Utterances ended at a finished sentence, and how many of those speech followed
        # within the pause that would have kept them in one (voice_input.endOfUtterance).
        "earlyEnds": session.segmenter.early_ends,
        "resumedAfterEarlyEnd": session.segmenter.resumed_after_early,
    }
    timings = [timing for timing in session.timings if timing.applied]
    if timings:
        # Where the audio began on this machine's monotonic clock (CLOCK_MONOTONIC), so that a
        # client on the same machine can place what it saw against the audio (benchmarks).
        answer["streamStartMonotonic"] = round(timings[0].spoken_end - timings[0].speech_end, 4)
    if session.failed:
        answer["failed"] = len(session.failed)
        answer["message"] = session.message
    if session.languages.current:
        answer["language"] = session.languages.current
    return answer


async def report_state(session: Any, interval: float) -> None:
    """Send ``session``'s state every ``interval`` seconds (and tick its lookahead) until it
    is done; ``transcribing`` once its audio is over."""
    while True:
        if session.audio_over and session.state == "listening":
            session.state = "transcribing"
        session.lookahead.tick()
        if session.done.is_set():
            return
        session.notify_state()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.done.wait(), interval)
