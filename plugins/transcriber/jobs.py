"""The transcriber's worker side: the ``transcribe`` job, which its manifest declares.

The worker imports this module (not plugin.py): it needs the engine, not the editor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from butler_ls.util.audio_decode import decode, decode_pcm, probe
from butler_ls.util.errors import ButlerError

from .engine import DEFAULT_BEAM, ENGINE, Options, windows
from .models import resolve_model
from .subtitles import Segment

if TYPE_CHECKING:
    from butler_ls.queue.tasks import JobContext


def worker_status() -> dict[str, Any]:
    """What the worker's heartbeat says of this plugin: the models it keeps loaded."""
    return {"models": ENGINE.loaded()}


def transcribe(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """The worker's ``transcribe`` job: audio from a path, an uploaded file, bytes or PCM."""
    if "blob" not in payload:
        return _transcribe_payload(ctx, payload)
    # Streamed through Redis by a server on another machine: put back together on disk
    # (checked against its digest) and decoded from there, in windows.
    with ctx.uploaded_file(payload["blob"]) as path:
        try:
            return _transcribe_payload(ctx, {**payload, "path": str(path)})
        except ButlerError as exc:
            # The user knows the file by its own name, not by the worker's copy.
            name = str(payload["blob"].get("name") or "the file")
            exc.args = (str(exc).replace(str(path), name),)
            raise


def _transcribe_payload(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    settings = payload.get("model") or {}
    spec = resolve_model(settings.get("name"))

    def loading() -> None:
        ctx.partial({"type": "model", "state": "loading", "name": spec.name})

    model = ENGINE.model(
        spec,
        device=settings.get("device", "auto"),
        compute_type=settings.get("computeType", "auto"),
        threads=ctx.threads,
        on_loading=loading,
        any_threads=getattr(getattr(ctx, "envelope", None), "priority", "") == "interactive",
    )
    if "pcm" in payload:
        pcm = payload["pcm"]
        audio = decode_pcm(
            pcm["data"],
            sample_rate=int(pcm.get("sampleRate", 16000)),
            channels=int(pcm.get("channels", 1)),
            sample_format=pcm.get("format", "s16le"),
        )
    else:
        audio = None
        source = payload["audio"] if "audio" in payload else payload["path"]
    options = Options(
        language=payload.get("language") or settings.get("language"),
        beam_size=int(payload.get("beamSize", DEFAULT_BEAM)),
        vad=bool(payload.get("vad", True)),
        vocabulary=list(settings.get("vocabulary") or []) + list(payload.get("vocabulary") or []),
        prompt=str(payload.get("prompt") or ""),
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
    return {
        "text": transcript.text,
        "segments": [attrs.asdict(s) for s in transcript.segments],
        "language": transcript.language,
        "duration": transcript.duration,
    }
