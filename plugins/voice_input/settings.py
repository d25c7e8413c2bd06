"""This plugin's settings: ``audio.*`` (the microphone) and ``voice_input.*`` (dictation)."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from butler_ls.job_api import Settings, between, setting


@attrs.frozen
class AudioSettings:
    """``audio.*``: microphone input."""

    device: str | int | None = None
    """Input device by name (substring) or index; unset means the system default input."""


@attrs.frozen
class VoiceInputSettings:
    """``voice_input.*``: how speech is cut into utterances, and what is shown meanwhile."""

    silence_ms: int = setting(400, check=between(30, 10_000))
    """A pause this long ends an utterance."""

    min_speech_ms: int = setting(250, check=between(0, 10_000))
    """Bursts with less speech than this are noise (a click, a cough) and are dropped."""

    max_utterance_seconds: float = setting(12.0, check=between(1, 300))
    """Longer speech is cut at its quietest point."""

    vad_aggressiveness: int = setting(2, check=between(0, 3))
    """The voice detector's mode, 0 to 3: higher calls less audio speech."""

    partial_text: bool = True
    """Whether provisional text is shown while an utterance is spoken."""

    partial_refresh: float = setting(0.3, check=between(0.1, 10))
    """Seconds of new speech between two refreshes of the provisional text; each costs
    the worker one short decoding, never before committed text."""

    end_of_utterance: Literal["sentence", "pause"] = "sentence"
    """``sentence``: an utterance whose transcription, started early in a pause, ends a
    sentence is committed then, without waiting for the rest of the pause (``silenceMs``);
    ``pause``: every utterance waits for the whole pause."""

    identifiers: bool = True
    """Whether the open documents' identifiers and names, and the notes' titles, are the
    model's hotwords, and spoken identifiers are written as a code document spells them."""

    max_hotwords: int = setting(10, check=between(0, 100))
    """At most this many hotwords from the documents (with ``model.vocabulary``); 0: none."""

    commands: dict[str, Any] = attrs.field(factory=dict)
    """Overrides of the voice commands' phrases (see docs/dictation.md)."""


def model_language(settings: Settings) -> str | None:
    """``model.language``, from the transcriber's section (plugins never import each other)."""
    language = getattr(settings.section("model"), "language", None)
    return language if isinstance(language, str) else None


def model_name(settings: Settings) -> str:
    """``model.name`` (``tiny.en`` when unset), from the transcriber's section."""
    name = getattr(settings.section("model"), "name", None)
    return name if isinstance(name, str) else "tiny.en"


def model_vocabulary(settings: Settings) -> list[str]:
    """``model.vocabulary``, from the transcriber's section."""
    words = getattr(settings.section("model"), "vocabulary", None)
    return [word for word in words if isinstance(word, str)] if isinstance(words, list) else []
