"""The transcriber's worker side: the ``transcribe`` job, which its manifest declares.

The worker imports this module (not plugin.py): it needs the engine, not the editor. The
payload is a ``TranscriptionRequest`` on the wire, the result a ``Transcript``.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from butler_ls.job_api import ButlerError, decode, decode_pcm, section_of
from butler_ls.job_api import probe_audio as probe

from .engine import ENGINE, Options, windows
from .languages import fixed_language
from .models import resolve_model
from .requests import Pcm, Transcript, TranscriptionRequest
from .settings import ModelSettings
from .subtitles import Segment

if TYPE_CHECKING:
    from butler_ls.job_api import JobContext


def worker_status() -> dict[str, Any]:
    """What the worker's heartbeat says of this plugin: the models it keeps loaded."""
    return {"models": ENGINE.loaded()}


def transcribe(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """The worker's ``transcribe`` job: audio from a path, an uploaded file, bytes or PCM."""
    priority = getattr(getattr(ctx, "envelope", None), "priority", "interactive")
    request = TranscriptionRequest.from_wire(payload, priority=priority)
    if request.blob is None:
        return _transcribe_request(ctx, request).to_wire()
    # Streamed through Redis by a server on another machine: put back together on disk
    # (checked against its digest) and decoded from there, in windows.
    with ctx.uploaded_file(request.blob) as path:
        try:
            local = attrs.evolve(request, blob=None, path=str(path))
            return _transcribe_request(ctx, local).to_wire()
        except ButlerError as exc:
            # The user knows the file by its own name, not by the worker's copy.
            name = str(request.blob.get("name") or "the audio")
            exc.args = (str(exc).replace(str(path), name),)
            raise


def _transcribe_request(ctx: JobContext, request: TranscriptionRequest) -> Transcript:
    # The server's model.* section, checked again here against the same class (a worker on
    # another machine may run a different Butler): a bad value falls back to its default.
    settings = section_of(ModelSettings, request.model, "butler.model", [])
    spec = resolve_model(settings.name)

    def loading() -> None:
        ctx.partial({"type": "model", "state": "loading", "name": spec.name})

    model = ENGINE.model(
        spec,
        device=settings.device,
        compute_type=settings.compute_type,
        threads=ctx.threads,
        on_loading=loading,
        any_threads=request.priority == "interactive",
    )
    source: Any = request.data if request.path is None else request.path
    audio = None if request.pcm is None else _samples(source, request.pcm)
    options = Options(
        # The request's language, else model.language; "auto" (either) detects it.
        language=fixed_language(request.language or settings.language),
        hint=request.language_hint,
        beam_size=request.beam_size,
        vad=request.vad,
        vocabulary=[*settings.vocabulary, *request.vocabulary],
        prompt=request.prompt,
        window=settings.window,
        provisional=request.provisional,
    )

    def segment(piece: Segment, duration: float) -> None:
        ctx.partial(
            {
                "type": "segment",
                "start": piece.start,
                "end": piece.end,
                "text": piece.text,
                "progress": min(1.0, piece.end / duration) if duration else 1.0,
            }
        )

    if audio is not None:
        transcript = ENGINE.transcribe(
            audio, model, options, on_segment=segment, cancelled=ctx.cancelled
        )
    else:
        transcript = ENGINE.transcribe_windows(
            windows(decode(source)),
            model,
            options,
            duration=probe(source).duration,
            on_segment=segment,
            cancelled=ctx.cancelled,
        )
    return Transcript(
        text=transcript.text,
        segments=transcript.segments,
        language=transcript.language,
        duration=transcript.duration,
        detected_language=transcript.detected,
        language_probability=transcript.probability,
    )


def _samples(source: str | bytes, layout: Pcm) -> Any:
    """Raw samples (in memory, or a spooled WAV read sample for sample) as model input."""
    name = "the audio data" if isinstance(source, bytes) else source
    data = source
    if isinstance(source, str):
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise ButlerError(f"{name} does not exist; its audio is gone") from None
        except OSError as exc:
            raise ButlerError(f"{name} cannot be read ({exc.strerror})") from None
    if layout.wav:
        data = _wav_samples(data, layout, name)
    return decode_pcm(
        data,
        sample_rate=layout.sample_rate,
        channels=layout.channels,
        sample_format=layout.format,
    )


def _wav_samples(data: bytes, layout: Pcm, name: str) -> bytes:
    """The samples of a plain PCM WAV whose header agrees with ``layout``."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            found = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
            samples = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ButlerError(f"{name} is not a plain PCM WAV ({exc})") from None
    expected = (layout.sample_rate, layout.channels, 2 if layout.format == "s16le" else 4)
    if found != expected:
        raise ButlerError(
            f"{name} holds {found[0]} Hz, {found[1]} channel(s), {8 * found[2]}-bit audio, "
            f"not the {expected[0]} Hz, {expected[1]} channel(s), {layout.format} the job says"
        )
    return samples
