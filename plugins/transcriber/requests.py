"""What ``speech.transcribe`` takes and gives: a ``TranscriptionRequest`` and a ``Transcript``,
each with its wire form (the ``transcribe`` job's payload and result); both sides use these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from butler_ls.job_api import ButlerError

from .engine import DEFAULT_BEAM
from .subtitles import Segment

SampleFormat = Literal["s16le", "f32le"]
Priority = Literal["interactive", "batch"]

_SAMPLE_FORMATS = ("s16le", "f32le")
_SOURCES = ("upload", "path", "data", "blob")


class RequestError(ButlerError):
    """A request or result that does not hold together; the message names the field."""


@attrs.frozen
class Pcm:
    """Raw samples: how they are laid out. The worker reads them as they are, no decoder."""

    sample_rate: int = 16000
    """Samples per second."""

    channels: int = 1
    """Interleaved channels; they are mixed down to mono."""

    format: SampleFormat = "s16le"
    """``s16le`` (16-bit integers) or ``f32le`` (32-bit floats), little-endian."""

    wav: bool = False
    """The samples are a plain PCM WAV file (the dictation spool's), header and all; its
    header must agree with the fields above."""


@attrs.frozen(kw_only=True)
class TranscriptionRequest:
    """One piece of audio to transcribe, and how. The audio is exactly one of ``upload``,
    ``path``, ``data`` or ``blob``; ``pcm`` says when it holds raw samples."""

    upload: str | bytes | None = None
    """Audio on the submitter's side, a file's path or bytes, that the queue hands to the
    worker once: a file stays where it is (``path``) and bytes go in the job's record
    (``data``) with SQLite; through Redis either is streamed into the store (``blob``)."""

    path: str | None = None
    """A file the worker reads where it is (it must see the same disk)."""

    data: bytes | None = None
    """The audio itself, in the job's record."""

    blob: dict[str, Any] | None = None
    """A file streamed through Redis: ``{name, size, sha256, chunks}`` (set by the queue)."""

    pcm: Pcm | None = None
    """The audio is raw samples laid out so; None: an audio file of any format, decoded."""

    language: str | None = None
    """Spoken language code; None: ``model.language``; ``auto``: detected, whatever
    ``model.language`` says."""

    language_hint: str | None = None
    """When the language is detected: the language so far (a dictation session's), kept
    unless this audio is confidently another language. Older workers ignore it."""

    prompt: str = ""
    """The text before this audio, for continuity (only its last words are used)."""

    vocabulary: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    """Words to favour (hotwords), added to ``model.vocabulary``."""

    beam_size: int = DEFAULT_BEAM
    """Beam search width; 1 is greedy (fast, for provisional text)."""

    vad: bool = True
    """Let the model's voice detector (Silero) skip non-speech."""

    provisional: bool = False
    """Text to show while speech goes on (a dictation's partial text): a short piece is
    encoded in a window fitted to it too, and a decoding that loops is dropped rather than
    redone. Older workers ignore it."""

    model: dict[str, Any] = attrs.field(factory=dict, hash=False)
    """The ``model.*`` settings (camelCase) at the time of the request; the capability
    fills them in."""

    priority: Priority = "interactive"
    """``interactive`` runs at once; ``batch`` waits while the machine is busy. It travels
    as the job's priority, not in the payload."""

    @classmethod
    def of_file(cls, path: str | Path, **options: Any) -> TranscriptionRequest:
        """An audio file on this machine, handed to the worker by the queue (see ``upload``)."""
        return cls(upload=str(path), **options)

    @classmethod
    def of_wav(cls, path: str | Path, **options: Any) -> TranscriptionRequest:
        """A 16 kHz mono 16-bit WAV on this machine (a spooled utterance), read sample for
        sample as in-memory samples would be; handed over as ``of_file`` does."""
        return cls(upload=str(path), pcm=Pcm(wav=True), **options)

    @classmethod
    def of_samples(
        cls, samples: bytes, layout: Pcm | None = None, **options: Any
    ) -> TranscriptionRequest:
        """Raw samples in memory (16 kHz mono ``s16le`` unless ``layout`` says otherwise)."""
        return cls(upload=bytes(samples), pcm=layout or Pcm(), **options)

    def source(self) -> str:
        """Which field holds the audio (``upload``, ``path``, ``data`` or ``blob``)."""
        given = [name for name in _SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise RequestError(
                "the request must name its audio exactly once, as one of upload, path, "
                f"data or blob, not {' and '.join(given) or 'none'}"
            )
        return given[0]

    def to_wire(self) -> dict[str, Any]:
        """The ``transcribe`` job's payload (camelCase; bytes stay bytes)."""
        source = self.source()
        payload: dict[str, Any] = {source: getattr(self, source)}
        if self.pcm is not None:
            payload["pcm"] = {
                "sampleRate": self.pcm.sample_rate,
                "channels": self.pcm.channels,
                "format": self.pcm.format,
                "wav": self.pcm.wav,
            }
        payload.update(
            language=self.language,
            prompt=self.prompt,
            vocabulary=list(self.vocabulary),
            beamSize=self.beam_size,
            vad=self.vad,
            model=dict(self.model),
        )
        if self.language_hint is not None:
            payload["languageHint"] = self.language_hint
        if self.provisional:
            payload["provisional"] = True
        return payload

    @classmethod
    def from_wire(
        cls, payload: Mapping[str, Any], priority: Priority = "interactive"
    ) -> TranscriptionRequest:
        """The request a payload holds; RequestError names a field that does not fit."""
        if not isinstance(payload, Mapping):
            raise RequestError(f"a transcription request is an object, not {_kind(payload)}")
        fields: dict[str, Any] = {"priority": priority}
        for name, kinds in (("upload", (str, bytes)), ("path", str), ("data", bytes)):
            if payload.get(name) is not None:
                fields[name] = _typed(payload, name, kinds)
        if payload.get("blob") is not None:
            fields["blob"] = dict(_typed(payload, "blob", Mapping))
        pcm = payload.get("pcm")
        if pcm is not None:
            pcm = dict(_typed(payload, "pcm", Mapping))
            if "data" in pcm and "data" not in fields:
                fields["data"] = _typed(pcm, "data", bytes, "pcm.data")  # the older form
            fields["pcm"] = _pcm(pcm)
        fields.update(
            language=_typed(payload, "language", str, optional=True),
            language_hint=_typed(payload, "languageHint", str, optional=True),
            prompt=_typed(payload, "prompt", str, optional=True) or "",
            vocabulary=_words(payload.get("vocabulary")),
            beam_size=_whole(payload.get("beamSize", DEFAULT_BEAM), "beamSize"),
            vad=bool(payload.get("vad", True)),
            provisional=bool(payload.get("provisional", False)),
            model=dict(_typed(payload, "model", Mapping, optional=True) or {}),
        )
        request = cls(**fields)
        request.source()
        return request


@attrs.frozen(kw_only=True)
class Transcript:
    """What a transcription gives back."""

    text: str
    """The segments' text, joined with spaces."""

    segments: tuple[Segment, ...] = attrs.field(default=(), converter=tuple)
    """Timed pieces of speech, in order."""

    language: str = ""
    """The language the model used (given or detected; for a file, the one most heard)."""

    duration: float = 0.0
    """Seconds of audio that were decoded."""

    detected_language: str = ""
    """What language detection heard at the start ("" when the language was given); it
    differs from ``language`` when an unsure detection kept the hint."""

    language_probability: float | None = None
    """How sure that detection was, 0 to 1 (None when the language was given)."""

    def to_wire(self) -> dict[str, Any]:
        """``{text, segments: [{start, end, text}], language, duration}``, and
        ``detectedLanguage`` and ``languageProbability`` when the language was detected."""
        wire: dict[str, Any] = {
            "text": self.text,
            "segments": [attrs.asdict(segment) for segment in self.segments],
            "language": self.language,
            "duration": self.duration,
        }
        if self.language_probability is not None:
            wire["detectedLanguage"] = self.detected_language
            wire["languageProbability"] = self.language_probability
        return wire

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Transcript:
        """The transcript a job's result holds; RequestError names a field that does not fit."""
        if not isinstance(data, Mapping):
            raise RequestError(f"a transcript is an object, not {_kind(data)}")
        segments = []
        for number, item in enumerate(_typed(data, "segments", list, optional=True) or []):
            try:
                segments.append(
                    Segment(start=float(item["start"]), end=float(item["end"]), text=item["text"])
                )
            except (KeyError, TypeError, ValueError):
                raise RequestError(
                    f"segments[{number}] is not {{start, end, text}}: {_kind(item)}"
                ) from None
        return cls(
            text=_typed(data, "text", str),
            segments=segments,
            language=_typed(data, "language", str, optional=True) or "",
            duration=float(_typed(data, "duration", (int, float), optional=True) or 0.0),
            detected_language=_typed(data, "detectedLanguage", str, optional=True) or "",
            language_probability=_probability(data.get("languageProbability")),
        )


def _probability(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise RequestError(f"languageProbability must be a number from 0 to 1, not {_kind(value)}")
    return float(value)


def _pcm(fields: Mapping[str, Any]) -> Pcm:
    sample_format = fields.get("format", "s16le")
    if sample_format not in _SAMPLE_FORMATS:
        raise RequestError(
            f"pcm.format is {sample_format!r}; use one of: {', '.join(_SAMPLE_FORMATS)}"
        )
    return Pcm(
        sample_rate=_whole(fields.get("sampleRate", 16000), "pcm.sampleRate"),
        channels=_whole(fields.get("channels", 1), "pcm.channels"),
        format=sample_format,
        wav=bool(fields.get("wav", False)),
    )


def _typed(
    fields: Mapping[str, Any],
    name: str,
    kinds: type | tuple[type, ...],
    label: str | None = None,
    *,
    optional: bool = False,
) -> Any:
    value = fields.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise RequestError(f"{label or name} must not be {_kind(value)}")
    return value


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RequestError(f"{name} must be a positive whole number, not {_kind(value)}")
    return value


def _words(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise RequestError(f"vocabulary must be a list of words, not {_kind(value)}")
    if not all(isinstance(word, str) for word in value):
        raise RequestError("vocabulary must hold words (strings) only")
    return tuple(value)


def _kind(value: Any) -> str:
    """A short name of what a value is, never its content (it may be dictated text)."""
    if value is None:
        return "missing"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
