"""The ``transcriber`` plugin: ``butler.transcribeFile`` and the ``speech.transcribe`` capability.

The model runs in the worker; this side sends the job, shows progress, streams segments
into the editor when asked to, and formats the result (text, SRT, VTT, JSON).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any, Literal

import attrs

from butler_ls.plugin_api import (
    ButlerError,
    DocumentClosed,
    FilePath,
    InvalidArguments,
    Plugin,
    PluginContext,
    PositionArgument,
    Progress,
    atomic_write,
    wire_form,
)

from .requests import Pcm, Transcript, TranscriptionRequest
from .settings import ModelSettings, TranscriberSettings
from .subtitles import normalize_format, render

logger = logging.getLogger(__name__)

EXTENSIONS = {"text": ".txt", "srt": ".srt", "vtt": ".vtt", "json": ".json"}
MB = 1 << 20


@attrs.frozen
class TranscribeFileArguments:
    """Argument of ``butler.transcribeFile``."""

    path: FilePath
    """The audio file (relative paths start at the workspace folder)."""

    target: Literal["return", "newDocument", "cursor"] = "return"
    """Where the transcript goes: only the answer, a new file shown in the editor, or
    streamed into the document ``uri`` at ``position`` as it is decoded."""

    uri: str | None = None
    """Document for ``target: cursor``."""

    position: PositionArgument | None = None
    """Where in ``uri`` (default: its end)."""

    format: str = "text"
    """text, srt, vtt or json (for ``newDocument`` and the ``formatted`` answer field)."""

    language: str | None = None
    """Spoken language; default ``model.language``, else detected."""


class Transcriber:
    """The ``speech.transcribe`` capability: send audio to the worker, get text back.

    Plugins never import each other: a consumer builds its request with ``Request`` (and
    ``Pcm``) from here, and reads the ``Transcript`` it gets back.
    """

    Request = TranscriptionRequest
    Pcm = Pcm
    Transcript = Transcript

    def __init__(self, plugin: TranscriberPlugin) -> None:
        self._plugin = plugin

    async def transcribe(
        self,
        request: TranscriptionRequest,
        *,
        on_event: Any = None,
        job_id: str | None = None,
    ) -> Transcript:
        """Transcribe ``request``'s audio with the current ``model.*`` settings."""
        if not isinstance(request, TranscriptionRequest):
            raise TypeError(
                f"speech.transcribe takes a TranscriptionRequest (the capability's Request), "
                f"not a {type(request).__name__}"
            )
        jobs = self._plugin.ctx.require("queue.jobs")
        model = self._plugin.ctx.settings.get(ModelSettings)
        request = attrs.evolve(request, model=wire_form(model))
        try:
            result = await jobs.submit(
                "transcribe",
                request.to_wire(),
                priority=request.priority,
                on_event=on_event,
                job_id=job_id,
            )
        except jobs.Error as exc:
            raise ButlerError(str(exc)) from None
        return Transcript.from_wire(result)


class TranscriberPlugin(Plugin):
    """Registers the command, the capability and the model status."""

    def activate(self, ctx: PluginContext) -> None:
        """Offer speech.transcribe, status.model and butler.transcribeFile."""
        self.ctx = ctx
        self.transcriber = Transcriber(self)
        ctx.provide("speech.transcribe", self.transcriber)
        ctx.provide("status.model", self.model_status)
        ctx.command(
            "butler.transcribeFile", self.transcribe_file, arguments=TranscribeFileArguments
        )

    def model_status(self) -> dict[str, Any]:
        """``{name, loaded}``: loaded when a live worker reports the model in memory."""
        name = self.ctx.settings.get(ModelSettings).name
        jobs = self.ctx.get("queue.jobs")
        workers = jobs.workers() if jobs is not None else {}
        loaded = any(name in (info.get("models") or []) for info in workers.values())
        state = "loaded" if loaded else ("not loaded" if workers else "not started")
        return {"name": name, "loaded": loaded, "state": state}

    async def transcribe_file(self, args: TranscribeFileArguments) -> dict[str, Any]:
        """``butler.transcribeFile``: progress, cancellation, targets and formats."""
        fmt = _format(args.format)
        path = self._audio_path(args.path)
        anchor = None
        if args.target == "cursor":
            if not args.uri:
                raise InvalidArguments("uri: target 'cursor' needs the document's uri", field="uri")
            position = args.position.to_lsp() if args.position else None
            anchor = self.ctx.anchor(args.uri, position)
        progress = self.ctx.progress(f"Transcribing {path.name}")
        job_id = uuid.uuid4().hex
        inserted: list[str] = []
        stopped: list[str] = []

        async def on_event(message: Any) -> None:
            data = message.data or {}
            if message.kind == "throttled":
                await progress.report(f"waiting: {data.get('reason')}", None)
            elif message.kind == "partial" and data.get("type") == "model":
                await progress.report(f"loading the model {data.get('name')}", None)
            elif message.kind == "partial" and data.get("type") == "segment":
                percent = round(100 * float(data.get("progress", 0)))
                await progress.report(f"{data['end']:.0f} s", percent)
                if anchor is not None and data["text"] and not stopped:
                    piece = _spaced(anchor.text_before(1), data["text"])
                    try:
                        await anchor.insert(piece, label="Butler: transcript")
                    except ButlerError as exc:
                        # Closed, or the editor refused: the rest stays in the answer.
                        stopped.append(str(exc))
                        return
                    inserted.append(piece)

        await progress.begin()
        canceller = self.ctx.run_task(self._cancel_when_asked(progress, job_id), "cancel-watch")
        try:
            result = await self.transcriber.transcribe(
                await self._audio_request(path, language=args.language, priority="batch"),
                on_event=on_event,
                job_id=job_id,
            )
        except asyncio.CancelledError:
            await asyncio.to_thread(self._jobs_board_cancel, job_id)
            raise
        except DocumentClosed:
            raise ButlerError(f"{args.uri} was closed before the transcript was in") from None
        finally:
            canceller.cancel()
            if anchor is not None:
                anchor.detach()
            await progress.end()
        segments = list(result.segments)
        answer = {
            **result.to_wire(),
            "format": fmt,
            "formatted": render(segments, fmt, language=result.language, duration=result.duration),
        }
        if stopped:
            answer["warning"] = (
                f"{stopped[0]}; {len(inserted)} of {len(segments)} segments went into the "
                f"document, the whole transcript is in this answer"
            )
            self.ctx.show_warning(f"Butler: {answer['warning']}")
        if args.target == "newDocument":
            output = _unique(path.with_suffix(EXTENSIONS[fmt]))
            # Yours, not Butler's: your umask, not the server's private one; off the loop.
            await asyncio.to_thread(atomic_write, output, answer["formatted"])
            answer["uri"] = output.as_uri()
            # The file is written; showing it is a courtesy (a failure is only logged).
            await self.ctx.show_document(answer["uri"])
        return answer

    async def _cancel_when_asked(self, progress: Progress, job_id: str) -> None:
        await progress.cancelled()
        await asyncio.to_thread(self._jobs_board_cancel, job_id)

    def _jobs_board_cancel(self, job_id: str) -> None:
        jobs = self.ctx.get("queue.jobs")
        if jobs is not None:
            jobs.cancel(job_id)

    def _audio_path(self, raw: str) -> Path:
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = (self.ctx.workspace_root() or Path.cwd()) / path
        if not path.exists():
            raise InvalidArguments(f"path: {path} does not exist; check the path", field="path")
        if not path.is_file():
            raise InvalidArguments(f"path: {path} is not a file", field="path")
        return path

    async def _audio_request(self, path: Path, **options: Any) -> TranscriptionRequest:
        # A local worker reads the file itself (and streams it). Through Redis the file
        # is streamed into Redis in pieces, so it must fit there: refused before any read.
        if self.ctx.settings.queue.backend != "redis":
            return TranscriptionRequest(path=str(path), **options)
        limit = self.max_file_mb()
        size = (await asyncio.to_thread(path.stat)).st_size
        if size > limit * MB:
            raise InvalidArguments(
                f"path: {path.name} is {size / MB:,.0f} MB, over the {limit:g} MB that "
                f"transcriber.maxFileMb allows with the redis queue (the file is copied "
                f"through Redis to the worker); raise transcriber.maxFileMb, or use the "
                f"sqlite queue, whose worker reads the file in place",
                field="path",
            )
        return TranscriptionRequest.of_file(path, **options)

    def max_file_mb(self) -> float:
        """``transcriber.maxFileMb``: the largest file sent through Redis (a positive number)."""
        # The settings engine checked it against TranscriberSettings' bounds.
        return float(self.ctx.settings.get(TranscriberSettings).max_file_mb)


def _format(name: str) -> str:
    try:
        return normalize_format(name)
    except ButlerError as exc:
        raise InvalidArguments(f"format: {exc}", field="format") from None


def _spaced(before: str, text: str) -> str:
    """Separate a streamed piece from what precedes it by one space."""
    if before and not before.isspace() and not text.startswith((" ", "\n")):
        return " " + text
    return text


def _unique(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate
