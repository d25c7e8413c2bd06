"""What the pieces of voice_input need of each other, as Protocols: the plugin runs sessions,
a session feeds its lookahead; each imports only the role it uses, never the other module.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from butler_ls.plugin_api import PluginContext

    from .segmenter import Segmenter
    from .session_language import SessionLanguage
    from .spool import Spool
    from .voice_commands import Rules


class Transcribed(Protocol):
    """What voice_input reads of the transcriber's ``Transcript``."""

    text: str
    language: str
    """The language it was transcribed in."""
    language_probability: float | None
    """How surely that language was detected; None when it was given."""


class Speech(Protocol):
    """The ``speech.transcribe`` capability as voice_input uses it (the transcriber's
    ``Transcriber``): plugins never import each other, so the request's class comes from it."""

    Request: Any
    """``TranscriptionRequest``: ``of_wav(path, ...)``, ``of_samples(pcm, ...)``."""

    async def transcribe(
        self, request: Any, *, on_event: Any = None, job_id: str | None = None
    ) -> Transcribed:
        """Run ``request`` in the worker; ButlerError when it fails."""


class LiveSession(Protocol):
    """A dictation session as its lookahead sees it (``session.DictationSession``)."""

    ctx: PluginContext
    segmenter: Segmenter
    languages: SessionLanguage
    rules: Rules
    text: str
    """Everything committed so far: the model's context."""
    partial: str
    """The provisional text of the utterance being spoken."""
    cancelled: bool
    end_of_utterance: str
    """``voice_input.endOfUtterance``: ``sentence`` or ``pause``."""
    partial_refresh: float
    """``voice_input.partialRefresh``: seconds of new speech between provisional texts."""

    @property
    def emitted(self) -> int:
        """Utterances cut so far: the index of the one being spoken."""

    @property
    def audio_over(self) -> bool:
        """Whether the audio has ended."""

    @property
    def shows_partial_text(self) -> bool:
        """Whether provisional text is sent while an utterance is spoken."""

    def transcribing(self) -> bool:
        """Whether an utterance's transcription is still running."""

    def notify_state(self) -> None:
        """Send ``butler/dictationState`` now."""

    def job_id(self, index: int) -> str:
        """The queue job id of utterance ``index``."""

    async def transcribe(
        self,
        audio: bytes | Path,
        speech_seconds: float,
        job_id: str,
        marks: dict[str, float],
        index: int = 0,
    ) -> Transcribed:
        """Utterance ``index``'s job (its spooled WAV, or samples not spooled yet); ``marks``
        gets when it started and ended."""


class SessionOwner(Protocol):
    """What a session needs of the plugin that runs it (``plugin.VoiceInputPlugin``)."""

    ctx: PluginContext
    spool: Spool

    @property
    def partial_text(self) -> bool:
        """Whether provisional text is sent while an utterance is spoken."""

    def rules(self, language: str | None = None) -> Rules:
        """The voice commands of ``language`` (default ``model.language``), as the settings
        ask for them."""

    def session_ended(self, session: LiveSession) -> None:
        """Called by a session once everything is applied (or dropped)."""
