"""Work on the utterance still being spoken: its provisional text, and a speculative
transcription from the first moments of a pause, which becomes its text if no speech follows.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING, Any

import attrs

from .utterance_jobs import audio_request, context, settled
from .voice_commands import interpret

if TYPE_CHECKING:
    from .roles import LiveSession
    from .segmenter import Utterance

logger = logging.getLogger(__name__)

PARTIAL_FIRST = 0.5
"""Seconds of an utterance's audio (pre-roll included) before its first provisional text."""

PAUSE_SUSPECTED = 0.06
"""Silence after which no provisional text is started: a pause may be beginning, and the
speculation (at SPECULATE_AFTER) must find the worker free."""

_SENTENCE_END = re.compile(r"[.?!\u2026\u3002\uff01\uff1f][\"'\u201d\u2019)\]]*$")
_ABBREVIATIONS = frozenset(
    ("mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "fig", "mt", "jr", "sr")
)


def ends_sentence(text: str) -> bool:
    """Whether a transcript ends a sentence: final punctuation, not after an abbreviation
    ("Mr.") or a lone number or letter ("10.", "A.")."""
    text = text.strip()
    if not _SENTENCE_END.search(text):
        return False
    last = text.split()[-1].rstrip(".?!\u2026\"'\u201d\u2019)]").lower()
    return bool(last) and last not in _ABBREVIATIONS and len(last) > 1 and not last.isdigit()


SPECULATE_AFTER = 0.15
"""Silence after which the utterance is transcribed speculatively, before the pause is long
enough to end it: if no speech follows, that result is the utterance's text, and the rest
of the pause detector's hangover costs nothing. No provisional text after this either."""


@attrs.define
class Speculation:
    """A transcription started at the beginning of a pause."""

    index: int
    """The utterance it is for."""
    voiced_until: float
    """Where the speech it holds ended; the utterance must end there too to use it."""
    job_id: str
    task: asyncio.Task[Any]
    """Gives the transcript, or the ButlerError that stopped it (``settled``)."""
    marks: dict[str, float]
    """When its job started and ended."""


class Lookahead:
    """Runs on the session's state ticks (ten a second) while audio comes in."""

    def __init__(self, session: LiveSession) -> None:
        self.session = session
        self.speculation: Speculation | None = None
        self._count = 0
        self._partial_job: asyncio.Task[Any] | None = None
        self._partial_at = 0.0

    def tick(self) -> None:
        """Start a speculation or refresh the provisional text, if it is time to."""
        session = self.session
        if session.cancelled or session.audio_over:
            return
        self.speculate()
        if session.shows_partial_text:
            self.refresh_partial()

    def take(self, utterance: Utterance) -> Speculation | None:
        """The speculation that holds exactly ``utterance``'s speech, if any; drops others."""
        self.session.partial = ""
        self._partial_at = 0.0
        speculation, self.speculation = self.speculation, None
        if speculation is None:
            return None
        if speculation.index == utterance.index and (
            abs(speculation.voiced_until - utterance.spoken_end) < 1e-6
        ):
            return speculation
        self._drop(speculation)
        return None

    def stop(self) -> None:
        """Drop whatever is in flight (the session ends or is cancelled)."""
        if self.speculation is not None:
            self._drop(self.speculation)
            self.speculation = None

    def speculate(self) -> None:
        """At the start of a pause, transcribe the utterance before the pause has ended it."""
        session = self.session
        segmenter = session.segmenter
        if session.cancelled or session.audio_over:
            return
        if not segmenter.in_speech or segmenter.trailing_silence < SPECULATE_AFTER:
            return
        voiced_until = segmenter.voiced_until  # first: see Segmenter.voiced_until
        index = session.emitted
        current = self.speculation
        if current is not None and current.index == index and current.voiced_until == voiced_until:
            return
        pcm = segmenter.pending_pcm()
        if not pcm or not voiced_until:
            return
        if current is not None:
            self._drop(current)
        self._count += 1
        job_id = f"{session.job_id(index)}-s{self._count}"
        marks: dict[str, float] = {"asked": time.monotonic()}
        speech_seconds = voiced_until - segmenter.utterance_start
        # Not in the spool yet (the utterance has not ended): its samples travel, once.
        task = session.ctx.run_task(
            settled(session.transcribe(pcm, speech_seconds, job_id, marks, index)), job_id
        )
        speculation = Speculation(index, voiced_until, job_id, task, marks)
        self.speculation = speculation
        task.add_done_callback(lambda done: self._finished(speculation, done))

    def _finished(self, speculation: Speculation, task: asyncio.Task[Any]) -> None:
        """A speculation is back: if its text ends a sentence and no speech came since, the
        utterance ends now rather than at the end of the pause (semantic end of utterance);
        otherwise its text is the provisional text until the pause ends it."""
        if self.speculation is not speculation or task.cancelled() or task.exception():
            return  # stale, dropped, or failed (the session reports a failure at the cut)
        session = self.session
        text = getattr(task.result(), "text", None)
        if not isinstance(text, str):
            return
        if session.end_of_utterance == "sentence" and ends_sentence(text):
            session.segmenter.end_at(speculation.voiced_until)
        elif session.shows_partial_text and text.strip():
            # The last words of a pause inside a sentence show now, not at the cut.
            shown = interpret(text, session.rules).text
            if shown and shown != session.partial:
                session.partial = shown
                session.notify_state()

    def _drop(self, speculation: Speculation) -> None:
        """Forget a speculation that more speech made stale, and stop its job."""
        speculation.task.cancel()
        ctx = self.session.ctx
        jobs = ctx.get("queue.jobs")
        if jobs is not None:
            ctx.run_task(asyncio.to_thread(jobs.cancel, speculation.job_id), "drop-speculation")

    def refresh_partial(self) -> None:
        """Transcribe the utterance still being spoken, when it has ``partialRefresh`` s of
        new speech and the worker has nothing better to do."""
        session = self.session
        if self._partial_job is not None or session.transcribing():
            return  # one at a time, and committed text first
        if session.cancelled or session.audio_over:
            return
        segmenter = session.segmenter
        if not segmenter.in_speech or segmenter.trailing_silence >= PAUSE_SUSPECTED:
            return  # no speech, or a pause that may be the end: the speculation comes soon
        seconds = segmenter.position - segmenter.utterance_start
        if seconds < PARTIAL_FIRST or seconds - self._partial_at < session.partial_refresh:
            return
        pcm = segmenter.pending_pcm()  # not empty: in_speech
        self._partial_at = seconds
        self._partial_job = session.ctx.run_task(
            self._partial(pcm, session.emitted), f"{session.job_id(session.emitted)}-partial"
        )

    async def _partial(self, pcm: bytes, utterance: int) -> None:
        session = self.session
        try:
            speech = session.ctx.require("speech.transcribe")
            request = audio_request(
                speech,
                pcm,
                priority="interactive",
                **session.languages.request_options(),
                prompt=context(session.text),
                # In a window fitted to the piece however short (3.8 times faster than
                # the 30 s one: benchmarks/partial_decode.py), without the model's own VAD.
                # Beam 5 as committed text: greedy misheard short pieces ("Add a merry
                # demo" for "Had he married"), so words showed right later (word-visible
                # p95 0.86-1.19 s against 0.88 s, for 60 against 68% of a core).
                beam_size=5,
                vad=False,
                provisional=True,
            )
            result = await speech.transcribe(request)
            text = interpret(result.text, session.rules).text
            # Nothing (a loop dropped, a word cut in two) keeps what is shown.
            current = session.emitted == utterance and not session.cancelled
            if text and current and text != session.partial:
                session.partial = text
                session.notify_state()  # now, not at the next tick
        except Exception as exc:
            logger.debug("provisional text failed: %s", exc)
        finally:
            self._partial_job = None
            if session.emitted != utterance:
                self._partial_at = 0.0
