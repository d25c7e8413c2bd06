"""Any audio file, bytes or raw PCM to 16 kHz mono float32 samples, the input of speech models.

Decoding streams through PyAV (FFmpeg) in chunks; every failure is an ``AudioError`` naming the fix.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
from collections.abc import Generator, Iterable, Iterator
from typing import Any

import attrs
import av
import av.error
import numpy

from butler_ls.util.audio_format import SAMPLE_RATE
from butler_ls.util.errors import ButlerError

__all__ = ["SAMPLE_RATE", "AudioError", "AudioInfo", "decode", "decode_all", "decode_pcm", "probe"]

logger = logging.getLogger(__name__)

Source = str | os.PathLike[str] | bytes | bytearray | memoryview

_READABLE = "use WAV, FLAC, MP3, OGG, M4A or another format FFmpeg reads"
# Names and first bytes of audio files: when FFmpeg cannot open one of these, the file is
# damaged rather than "not audio", and the message should say so.
_AUDIO_SUFFIX = re.compile(r"\.(wave?|flac|mp3|og[ga]|opus|m4a|mp4|aac|webm|mka|wma|aiff?|caf)")
_AUDIO_MAGIC = (b"RIFF", b"fLaC", b"ID3", b"OggS", b"\x1aE\xdf\xa3", b"FORM", b"caff")
_VIDEO_CONTAINERS = {"mov", "mp4", "matroska", "webm", "avi", "flv", "mpegts", "ogg", "asf"}
_PCM_FORMATS = {"s16le": numpy.dtype("<i2"), "f32le": numpy.dtype("<f4")}


class AudioError(ButlerError):
    """Audio could not be read; the message names the file (or "the audio data") and the fix."""


@attrs.frozen
class AudioInfo:
    """What ``probe`` learns about an audio source without decoding it."""

    duration: float | None
    """Length in seconds from the stream or container headers; None when they do not say."""

    sample_rate: int | None
    """Samples per second of the stored audio (before conversion to 16 kHz)."""

    channels: int | None
    """Number of stored channels (before the downmix to mono)."""

    codec: str | None
    """FFmpeg's name of the audio codec, e.g. ``mp3``, ``pcm_s16le``, ``aac``."""


def probe(source: Source) -> AudioInfo:
    """Read the headers of ``source`` (a path or a file's bytes) and describe its audio."""
    name = _describe(source)
    with _open(source, name) as container:
        stream = _audio_stream(container, source, name)
        ctx = stream.codec_context
        return AudioInfo(
            duration=_duration(container, stream),
            sample_rate=ctx.sample_rate or None,
            channels=ctx.layout.nb_channels or None,
            codec=ctx.codec.canonical_name or ctx.codec.name or None,
        )


def decode(
    source: Source, *, chunk_seconds: float = 30.0, strict: bool = False
) -> Iterator[numpy.ndarray]:
    """Decode ``source`` to 16 kHz mono float32 chunks of ``chunk_seconds`` (the last shorter).

    The file is opened at once, so a missing or unreadable file raises here, not on the
    first chunk. Damaged packets are skipped with a warning, as FFmpeg's own tools do, so a
    truncated or partly corrupt recording still gives the audio that survived; with
    ``strict`` any damage raises ``AudioError`` instead. A file in which nothing at all
    decodes always raises.
    """
    return _start(source, chunk_seconds, strict, None)


def decode_all(
    source: Source, *, max_seconds: float | None = None, strict: bool = False
) -> numpy.ndarray:
    """Decode all of ``source`` into one 16 kHz mono float32 array.

    ``max_seconds`` bounds memory use: longer audio raises ``AudioError`` naming the limit,
    before decoding when the headers tell the length, else as soon as the limit is passed.
    """
    if max_seconds is not None and not max_seconds > 0:
        raise AudioError(f"max_seconds must be greater than 0, not {max_seconds!r}")
    limit = None if max_seconds is None else round(max_seconds * SAMPLE_RATE)
    parts: list[numpy.ndarray] = []
    total = 0
    # Small chunks under a small limit, so the overshoot before the check stays small too.
    chunk_seconds = 30.0 if max_seconds is None else max(1.0, min(30.0, max_seconds))
    with contextlib.closing(_start(source, chunk_seconds, strict, max_seconds)) as chunks:
        for chunk in chunks:
            total += len(chunk)
            if limit is not None and total > limit:
                seconds = total / SAMPLE_RATE
                raise _too_long(_describe(source), max_seconds, seconds, from_headers=False)
            parts.append(chunk)
    if not parts:
        return numpy.zeros(0, dtype=numpy.float32)
    return parts[0] if len(parts) == 1 else numpy.concatenate(parts)


def decode_pcm(
    data: bytes, *, sample_rate: int, channels: int = 1, sample_format: str = "s16le"
) -> numpy.ndarray:
    """Convert raw interleaved PCM (``s16le`` or ``f32le``) to 16 kHz mono float32."""
    dtype = _PCM_FORMATS.get(sample_format)
    if dtype is None:
        known = ", ".join(_PCM_FORMATS)
        raise AudioError(f"unknown PCM sample_format {sample_format!r}; use one of: {known}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise AudioError(f"PCM sample_rate must be a positive whole number, not {sample_rate!r}")
    if isinstance(channels, bool) or not isinstance(channels, int) or channels <= 0:
        raise AudioError(f"PCM channels must be a positive whole number, not {channels!r}")
    frame_bytes = dtype.itemsize * channels
    if len(data) % frame_bytes:
        raise AudioError(
            f"the PCM data has {len(data)} bytes, not a multiple of {frame_bytes} "
            f"({channels} channel(s) of {sample_format}); it is cut short or the format is wrong"
        )
    samples = numpy.frombuffer(data, dtype=dtype).reshape(-1, channels)
    mono = numpy.ascontiguousarray(samples.mean(axis=1, dtype=numpy.float32))
    if dtype.kind == "i":
        mono /= 32768.0
    if sample_rate == SAMPLE_RATE or not len(mono):
        return _full_scale(mono)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = sample_rate
    frame.pts = 0
    frames = [*resampler.resample(frame), *resampler.resample(None)]
    out = [f.to_ndarray().reshape(-1) for f in frames]
    return _full_scale(numpy.concatenate(out)) if out else numpy.zeros(0, dtype=numpy.float32)


# -- opening -------------------------------------------------------------------------------


def _describe(source: Source) -> str:
    if isinstance(source, bytes | bytearray | memoryview):
        return "the audio data"
    return os.fspath(source)


def _open(source: Source, name: str) -> Any:
    """Open ``source`` with PyAV, turning every way this can fail into an ``AudioError``."""
    if isinstance(source, bytes | bytearray | memoryview):
        if not len(source):
            raise AudioError(f"{name} is empty (0 bytes); record or pick some audio")
        target: Any = io.BytesIO(source)
    else:
        target = os.fspath(source)
        try:
            size = os.stat(target).st_size
        except FileNotFoundError:
            raise AudioError(f"{name} does not exist; check the path") from None
        except OSError as exc:
            raise AudioError(f"{name} cannot be read ({exc.strerror}); check the path") from None
        if os.path.isdir(target):
            raise AudioError(f"{name} is a directory, not a file; pick an audio file inside it")
        if size == 0:
            raise AudioError(f"{name} is empty (0 bytes); the recording may have failed")
    try:
        return av.open(target, mode="r")
    except PermissionError:
        raise AudioError(f"{name} cannot be read: permission denied; make it readable") from None
    except (av.error.FFmpegError, OSError, EOFError) as exc:
        raise _unreadable(source, name, _reason(exc)) from None


def _unreadable(source: Source, name: str, reason: str) -> AudioError:
    """The error for something FFmpeg would not read as audio: damaged audio, text or other."""
    head = _head(source)
    if isinstance(source, bytes | bytearray | memoryview):
        looks_audio = False
    else:
        looks_audio = bool(_AUDIO_SUFFIX.fullmatch(os.path.splitext(source)[1].lower()))
    looks_audio |= head.startswith(_AUDIO_MAGIC) or head[4:8] == b"ftyp"
    if _is_text(head):
        reason = "it holds text"
    elif looks_audio:
        return AudioError(f"{name} looks damaged or cut off ({reason}); export it again")
    what = "audio" if name == "the audio data" else "an audio file"
    return AudioError(f"{name} is not {what} Butler can read ({reason}); {_READABLE}")


def _head(source: Source) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source[:512])
    try:
        with open(source, "rb") as file:
            return file.read(512)
    except OSError:
        return b""


def _is_text(head: bytes) -> bool:
    """Whether ``head`` is printable UTF-8: a note or a log saved under the wrong name."""
    # A multi-byte character may be cut at the end of the 512 bytes.
    text = head.decode("utf-8", errors="replace").rstrip("\ufffd")
    return bool(text) and all(ch.isprintable() or ch in "\t\r\n" for ch in text)


def _audio_stream(container: Any, source: Source, name: str) -> Any:
    if container.streams.audio:
        return container.streams.best("audio") or container.streams.audio[0]
    fmt = container.format
    if set(fmt.name.split(",")) & _VIDEO_CONTAINERS:
        held = ", ".join(sorted({s.type for s in container.streams})) or "no streams at all"
        raise AudioError(
            f"{name} has no audio stream (it holds {held}); "
            "extract the sound track or pick another file"
        )
    # FFmpeg also reads images and even text (as ANSI art) as "video": not what users mean.
    what = "audio" if name == "the audio data" else "an audio file"
    kind = "it holds text" if _is_text(_head(source)) else f"FFmpeg reads it as {fmt.long_name}"
    raise AudioError(f"{name} is not {what} Butler can read ({kind}); {_READABLE}")


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _reason(exc: BaseException) -> str:
    """FFmpeg's words for a failure, without the errno and function name PyAV adds."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"FFmpeg: {text}"


def _too_long(name: str, limit: float | None, seconds: float, *, from_headers: bool) -> AudioError:
    length = f"about {seconds:.0f} s" if from_headers else f"more than {seconds:.0f} s"
    return AudioError(
        f"{name} is {length} long, over the limit of {limit:g} s; split it into shorter files"
    )


# -- decoding ------------------------------------------------------------------------------


def _start(
    source: Source, chunk_seconds: float, strict: bool, max_seconds: float | None
) -> Generator[numpy.ndarray, None, None]:
    if not chunk_seconds > 0:
        raise AudioError(f"chunk_seconds must be greater than 0, not {chunk_seconds!r}")
    chunks = _decode_chunks(source, round(chunk_seconds * SAMPLE_RATE) or 1, strict, max_seconds)
    # Run the generator up to its first yield so that opening errors surface now, and so
    # that closing or dropping the iterator always closes the container.
    next(chunks)
    return chunks  # type: ignore[return-value]


def _decode_chunks(
    source: Source, chunk: int, strict: bool, max_seconds: float | None
) -> Generator[numpy.ndarray | None, None, None]:
    """The generator behind ``decode``: yields None once opened, then the chunks."""
    name = _describe(source)
    with _open(source, name) as container:
        stream = _audio_stream(container, source, name)
        known = _duration(container, stream)
        if max_seconds is not None and known is not None and known > max_seconds:
            raise _too_long(name, max_seconds, known, from_headers=True)
        yield None
        mono, buffer = _MonoResampler(), _Buffer()
        damaged, damage_at, broken_tail = 0, 0.0, None
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.error.FFmpegError, OSError, EOFError) as exc:
                # The container itself broke (usually a cut-off file): keep what came before.
                broken_tail = exc
                with contextlib.suppress(av.error.FFmpegError, EOFError):
                    buffer.extend(mono.convert(stream.decode(None)))
                break
            try:
                frames = stream.decode(packet)
            except (av.error.FFmpegError, EOFError) as exc:
                if strict:
                    raise AudioError(
                        f"{name} is damaged at {buffer.seconds:.1f} s ({_reason(exc)}); "
                        f"export it again or {_READABLE}"
                    ) from None
                damage_at = damage_at if damaged else buffer.seconds
                damaged += 1
                continue
            buffer.extend(mono.convert(frames))
            yield from buffer.take_full(chunk)
        buffer.extend(mono.flush())
        if buffer.total == 0 and (damaged or broken_tail is not None):
            raise AudioError(f"{name} is damaged: no audio in it could be decoded; {_READABLE}")
        if broken_tail is None and known is not None and buffer.seconds < 0.9 * known - 0.5:
            # Not an error even when strict: headers of VBR MP3s and the like only estimate.
            logger.warning(
                "%s: its headers promise %.1f s but only %.1f s decoded; it may be cut off",
                *(name, known, buffer.seconds),
            )
        if broken_tail is not None:
            where = f"cut off or damaged after {buffer.seconds:.1f} s ({_reason(broken_tail)})"
            if strict:
                raise AudioError(f"{name} is {where}; export it again or {_READABLE}")
            logger.warning("%s is %s; using the audio before that", name, where)
        if damaged:
            logger.warning(
                "%s: skipped %d damaged packet(s), the first at %.1f s; words there may be lost",
                *(name, damaged, damage_at),
            )
        yield from buffer.take_full(chunk)
        if buffer.held:
            yield buffer.take(buffer.held)


class _Buffer:
    """Decoded samples waiting to fill a chunk; never more than a chunk plus one frame."""

    def __init__(self) -> None:
        self.parts: list[numpy.ndarray] = []
        self.held = 0
        self.total = 0

    @property
    def seconds(self) -> float:
        return self.total / SAMPLE_RATE

    def extend(self, arrays: Iterable[numpy.ndarray]) -> None:
        for samples in arrays:
            self.parts.append(samples)
            self.held += len(samples)
            self.total += len(samples)

    def take_full(self, size: int) -> Iterator[numpy.ndarray]:
        while self.held >= size:
            yield self.take(size)

    def take(self, size: int) -> numpy.ndarray:
        joined = self.parts[0] if len(self.parts) == 1 else numpy.concatenate(self.parts)
        # The rest is copied so a small tail does not keep the whole joined buffer alive.
        rest = joined[size:].copy()
        self.parts = [rest] if len(rest) else []
        self.held = len(rest)
        return numpy.ascontiguousarray(joined[:size])


class _MonoResampler:
    """Resample to 16 kHz float, then average the channels.

    FFmpeg's own float downmix keeps each channel at -3 dB, so loud stereo goes past 1.0;
    averaging keeps samples in [-1, 1]. A change of rate or layout mid-stream (it happens
    in concatenated MP3s and some broadcasts) starts a fresh resampler.
    """

    def __init__(self) -> None:
        self._resampler: Any = None
        self._shape: tuple[str, str, int] | None = None

    def convert(self, frames: Iterable[Any]) -> Iterator[numpy.ndarray]:
        for frame in frames:
            shape = (frame.format.name, frame.layout.name, frame.sample_rate)
            if shape != self._shape:
                yield from self.flush()
                self._resampler = av.AudioResampler(format="fltp", rate=SAMPLE_RATE)
                self._shape = shape
            # Timestamps jump after skipped packets; the resampler need not know about it.
            frame.pts = None
            yield from map(_to_mono, self._resampler.resample(frame))

    def flush(self) -> Iterator[numpy.ndarray]:
        if self._resampler is not None:
            yield from map(_to_mono, self._resampler.resample(None))
        self._resampler = None
        self._shape = None


def _to_mono(frame: Any) -> numpy.ndarray:
    planes = frame.to_ndarray()
    mono = planes[0] if planes.shape[0] == 1 else planes.mean(axis=0, dtype=numpy.float32)
    return _full_scale(mono)


def _full_scale(samples: numpy.ndarray) -> numpy.ndarray:
    # Resampling filters ring past full scale on loud or noisy input, and float sources
    # may hold anything; models expect [-1, 1], and the clipped peaks are inaudible.
    return numpy.clip(samples, -1.0, 1.0, out=samples)
