"""One dictation session: audio to utterances to the spool to the worker to edits, in order.

A pump thread cuts the audio into utterances and spools each one before it is sent; the
event loop transcribes them concurrently and applies their text strictly in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from butler_ls.plugin_api import Anchor, ButlerError, DocumentClosed, Span

from .identifiers import DocumentWords
from .lookahead import SPECULATE_AFTER, Lookahead
from .segmenter import SAMPLE_RATE, Segmenter, Utterance
from .session_language import SessionLanguage
from .session_state import dictation_state, report_state, stop_answer
from .settings import VoiceInputSettings, model_language, model_name, model_vocabulary
from .timing import Timing, heard_at
from .utterance_jobs import SHORT_SPEECH, command_phrases, settled, transcribe_utterance
from .voice_commands import interpret, join

if TYPE_CHECKING:
    from pathlib import Path

    from .roles import SessionOwner, Transcribed
    from .sources import Source
    from .spool import SpooledUtterance
    from .voice_commands import Rules

logger = logging.getLogger(__name__)

STATE_INTERVAL = 0.1
"""Seconds between ``butler/dictationState`` notifications while a session runs."""

SCRATCH_DEPTH = 20
"""How many utterances "scratch that" can walk back, one at a time."""


class DictationSession:
    """Runs from ``start()`` until its audio ended and every utterance is applied."""

    def __init__(
        self,
        plugin: SessionOwner,
        session_id: str,
        source: Source,
        anchor: Anchor | None,
        segmenter: Segmenter,
    ) -> None:
        self.plugin = plugin
        self.ctx = plugin.ctx
        self.id = session_id
        self.source = source
        self.anchor = anchor
        self.target = "cursor" if anchor is not None else "dailyNote"
        self.segmenter = segmenter
        settings = self.ctx.settings
        self.languages = SessionLanguage(
            model_language(settings), model_name(settings), plugin.rules
        )
        self.vocabulary = model_vocabulary(settings)
        settings = self.ctx.settings.get(VoiceInputSettings)
        self.end_of_utterance = settings.end_of_utterance
        self.partial_refresh = settings.partial_refresh
        # The worker adds model.vocabulary to the hotwords itself: it counts in the bound.
        self.words = DocumentWords(
            self.ctx,
            settings.identifiers,
            settings.max_hotwords,
            fixed=len(self.vocabulary),
            dictated=plugin.dictated,
        )
        self.state = "listening"
        self.message: str | None = None
        self.partial = ""
        self.text = ""  # everything committed, as inserted (for stop's answer and prompts)
        self.timings: list[Timing] = []
        self.cancelled = False
        self.stopping = False
        """Asked to stop (or cancel): no more audio is taken, pending text is on its way."""
        self.failed: list[int] = []
        self.source_failed = False
        self._loop = asyncio.get_running_loop()
        self._audio: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._arrivals: deque[tuple[float, float]] = deque(maxlen=2000)
        self._level = -96.0
        self._jobs: dict[int, asyncio.Task[Any]] = {}
        self._job_ids: dict[int, str] = {}
        self._ready: dict[int, tuple[SpooledUtterance | None, Utterance, Timing]] = {}
        self._next = 0  # the next utterance to apply
        self._emitted = 0  # utterances cut so far
        self._audio_over = asyncio.Event()
        self._wake = asyncio.Event()
        self._spans: deque[tuple[Span, str]] = deque(maxlen=SCRATCH_DEPTH)
        self.lookahead = Lookahead(self)
        self.done = asyncio.Event()

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the audio, the pump thread and the tasks that apply text and report state."""
        await asyncio.to_thread(self.source.start, self._audio.put, self._source_ended)
        threading.Thread(target=self._pump, name=f"butler-dictation-{self.id}", daemon=True).start()
        self.ctx.run_task(self._apply_in_order(), f"dictation-{self.id}-apply")
        self.ctx.run_task(report_state(self, STATE_INTERVAL), f"dictation-{self.id}-state")

    async def stop(self) -> dict[str, Any]:
        """Stop listening; answer once every pending utterance is applied."""
        self.stopping = True
        await asyncio.to_thread(self.source.stop)
        await self.done.wait()
        return stop_answer(self)

    async def cancel(self) -> None:
        """Stop listening and drop whatever has not been applied yet."""
        self.cancelled = self.stopping = True
        await asyncio.to_thread(self.source.stop)
        self.lookahead.stop()
        jobs = self.ctx.get("queue.jobs")
        for index, task in list(self._jobs.items()):
            task.cancel()
            if jobs is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(jobs.cancel, self._job_ids.get(index, ""))
        self._wake.set()
        await self.done.wait()

    @property
    def rules(self) -> Rules:
        """The voice commands of the session's language."""
        return self.languages.rules()

    # --- the audio side (threads) ----------------------------------------------------------

    def _source_ended(self, error: str | None) -> None:
        if error:
            self.message = error
            self.source_failed = True
        self._audio.put(None)

    def _pump(self) -> None:
        """Cut the audio into utterances and spool each one (never on the event loop)."""
        fed = 0.0
        asked = 0.0  # the speech end a speculation was last asked for
        try:
            while True:
                chunk = self._audio.get()
                if chunk is None:
                    utterances = self.segmenter.flush()
                else:
                    fed += len(chunk) / 2 / SAMPLE_RATE
                    self._arrivals.append((fed, time.monotonic()))
                    utterances = self.segmenter.feed(chunk)
                    self._level = self.segmenter.level_dbfs()
                    segmenter = self.segmenter
                    if (
                        segmenter.in_speech
                        and segmenter.trailing_silence >= SPECULATE_AFTER
                        and segmenter.voiced_until != asked
                    ):
                        # The pause is long enough now, not at the next state tick (up to
                        # 100 ms later): every millisecond here is one the user waits.
                        asked = segmenter.voiced_until
                        self._loop.call_soon_threadsafe(self.lookahead.speculate)
                    elif segmenter.in_speech and self.shows_partial_text:
                        # Likewise for the provisional text (it checks whether it is due).
                        self._loop.call_soon_threadsafe(self.lookahead.refresh_partial)
                for utterance in utterances:
                    self._spool(utterance)
                if chunk is None:
                    break
        except Exception as exc:
            logger.exception("dictation session %s: cutting the audio failed", self.id)
            self.message = f"cutting the audio into utterances failed: {exc}"
            self.source_failed = True
            with contextlib.suppress(Exception):
                self.source.stop()
        self._level = -96.0
        self._loop.call_soon_threadsafe(self._audio_over.set)
        self._loop.call_soon_threadsafe(self._wake.set)

    def _spool(self, utterance: Utterance) -> None:
        timing = Timing(
            utterance.index,
            spoken_end=heard_at(self._arrivals, utterance.spoken_end),
            speech_end=utterance.spoken_end,
        )
        timing.cut = time.monotonic()
        timing.duration = utterance.duration
        timing.early = utterance.early
        context = {"target": self.target, "uri": self.anchor.uri if self.anchor else None}
        try:
            spooled = self.plugin.spool.put(self.id, utterance, context)
        except ButlerError as exc:
            # Not durable, but not lost either: it is transcribed from memory.
            spooled = None
            self.message = f"dictated audio is not being kept safe on disk: {exc}"
            self._loop.call_soon_threadsafe(self.ctx.show_warning, self.message)
        timing.spooled = time.monotonic()
        self._loop.call_soon_threadsafe(self._utterance_ready, spooled, utterance, timing)

    # --- the event loop side ---------------------------------------------------------------

    def _utterance_ready(
        self, spooled: SpooledUtterance | None, utterance: Utterance, timing: Timing
    ) -> None:
        self._emitted = utterance.index + 1
        speculation = self.lookahead.take(utterance)
        if self.cancelled:
            return
        self._ready[utterance.index] = (spooled, utterance, timing)
        if speculation is not None:
            # No speech since the speculation began: its text is this utterance's.
            timing.speculative = True
            timing.marks = speculation.marks
            self._jobs[utterance.index] = speculation.task
            self._job_ids[utterance.index] = speculation.job_id
        else:
            timing.marks = {}
            job_id = self.job_id(utterance.index)
            self._job_ids[utterance.index] = job_id
            # The spooled WAV is the utterance's one copy: the job refers to it. Only when
            # the spool failed do the samples travel themselves.
            audio = spooled.path if spooled is not None else utterance.pcm
            self._jobs[utterance.index] = self.ctx.run_task(
                settled(
                    self.transcribe(
                        audio,
                        utterance.spoken_end - utterance.start,
                        job_id,
                        timing.marks,
                        utterance.index,
                    )
                ),
                job_id,
            )
        self._wake.set()

    @property
    def emitted(self) -> int:
        """Utterances cut so far: the index of the one being spoken."""
        return self._emitted

    @property
    def shows_partial_text(self) -> bool:
        """Whether provisional text is sent while an utterance is spoken (the setting, live)."""
        return bool(self.plugin.partial_text)

    @property
    def audio_over(self) -> bool:
        """Whether the audio has ended (stopped, or the recording played)."""
        return self._audio_over.is_set()

    def transcribing(self) -> bool:
        """Whether an utterance's transcription is still running."""
        return any(not task.done() for task in self._jobs.values())

    def job_id(self, index: int) -> str:
        """The queue job id of utterance ``index``."""
        return f"dictation-{self.id}-{index}"

    async def transcribe(
        self,
        audio: bytes | Path,
        speech_seconds: float,
        job_id: str,
        marks: dict[str, float],
        index: int = 0,
    ) -> Transcribed:
        """Utterance ``index``'s job (its spooled WAV, or samples not spooled yet); ``marks``
        gets when it started and ended, for the figures."""
        if speech_seconds <= SHORT_SPEECH and index > self._next:
            # Likely a command: heard alone, its language is a guess; the session's is known
            # once the first utterance is in (at most LANGUAGE_WAIT later).
            await self.languages.known()
        speech = self.ctx.require("speech.transcribe")
        document_words = await self.words.hotwords(*self._where())
        return await transcribe_utterance(
            speech,
            audio,
            speech_seconds,
            job_id=job_id,
            marks=marks,
            **self.languages.request_options(),
            text_so_far=self.text,
            hotwords=command_phrases(self.rules),
            document_words=document_words,
        )

    def _where(self) -> tuple[str | None, int]:
        """The document dictated into (None: the daily note) and the line of the anchor."""
        position = self.anchor.position() if self.anchor is not None else None
        return (self.anchor.uri if self.anchor else None), (position.line if position else 0)

    @property
    def pending(self) -> int:
        """Utterances cut but not yet applied."""
        return len(self._ready)

    async def _apply_in_order(self) -> None:
        try:
            while True:
                if self._next in self._ready:
                    await self._apply_next()
                    continue
                if self._audio_over.is_set() and not self._ready:
                    break
                if self.cancelled and self._audio_over.is_set():
                    break
                self._wake.clear()
                await self._wake.wait()
        except Exception as exc:
            logger.exception("dictation session %s failed", self.id)
            self.message = f"dictation failed: {exc}"
            self.state = "error"
        finally:
            await self._finish()

    async def _apply_next(self) -> None:
        index = self._next
        spooled, _, timing = self._ready[index]
        task = self._jobs[index]
        try:
            result = await task
        except asyncio.CancelledError:
            if not self.cancelled:
                raise
            result = None
        if isinstance(result, ButlerError):
            # Kept in the spool: it is transcribed into the daily note on a later start.
            logger.warning("dictation %s: utterance %d not transcribed: %s", self.id, index, result)
            self.failed.append(index)
            self.message = (
                f"an utterance could not be transcribed ({result}); its audio is kept and goes "
                "to today's note under 'Recovered dictation' when Butler next starts"
            )
            result = None
        if result is not None and not self.cancelled:
            heard = self.languages.observe(result.language, result.language_probability)
            await self._place(result.text, self.languages.rules(heard))
            timing.applied = time.monotonic()
            self.timings.append(timing)
            if spooled is not None:
                await asyncio.to_thread(self.plugin.spool.done, self.id, index)
        del self._ready[index]
        self._jobs.pop(index, None)
        self._job_ids.pop(index, None)
        self._next += 1

    async def _place(self, transcript: str, rules: Rules) -> None:
        """Apply one utterance: voice commands (of the language it was heard in), spacing,
        then the edit (or the daily note)."""
        names = await self.words.matcher(*self._where())
        piece = interpret(transcript, rules, keep=self.vocabulary, names=names)
        if piece.scratch:
            await self._scratch()
        if not piece.text:
            return
        if self.anchor is not None:
            before, after = self.anchor.text_before(), self.anchor.text_after(2)
            exact = piece.exact_start
            text = join(before, piece.text, after, keep=self.vocabulary, exact_start=exact)
            try:
                span = await self.anchor.insert(text, label="Butler dictation", track=True)
            except DocumentClosed:
                self._to_daily_note()
            else:
                self._spans.append((span, text))
                self.text += text
                self.plugin.dictated.wrote(self.anchor.uri, text)
                return
        text = join("", piece.text, keep=self.vocabulary, exact_start=piece.exact_start)
        await self.ctx.require("notes.daily").append(text)
        self.text = f"{self.text}\n{text}" if self.text else text

    async def _scratch(self) -> None:
        if self.anchor is None or not self._spans:
            self.message = "scratch that: nothing of this dictation is left to remove here"
            return
        span, text = self._spans.pop()
        try:
            await self.anchor.delete(span, label="Butler dictation: scratch that")
        except DocumentClosed:
            self._to_daily_note()
            return
        if self.text.endswith(text):
            self.text = self.text[: -len(text)]

    def _to_daily_note(self) -> None:
        uri = self.anchor.uri if self.anchor else "the document"
        if self.anchor is not None:
            self.anchor.detach()
        self.anchor = None
        self.target = "dailyNote"
        self.message = f"{uri} was closed; the rest of this dictation goes to today's note"
        self.ctx.show_warning(self.message)

    async def _finish(self) -> None:
        self.lookahead.stop()
        if self.anchor is not None:
            self.anchor.detach()
        if self.cancelled:
            await asyncio.to_thread(self.plugin.spool.close_session, self.id, discard=True)
        elif not self.failed:
            await asyncio.to_thread(self.plugin.spool.close_session, self.id)
        if self.state != "error":
            self.state = "error" if self.failed or self.source_failed else "idle"
        self.partial = ""
        self.notify_state()  # the last state goes out before stop answers
        self.done.set()
        self.plugin.session_ended(self)

    # --- live state and provisional text ---------------------------------------------------

    def notify_state(self) -> None:
        """Send one ``butler/dictationState``."""
        self.ctx.notify("butler/dictationState", dictation_state(self, self._level))
