"""The ``transcriber`` plugin: ``butler.transcribeFile`` and the ``speech.transcribe`` capability.

The model runs in the worker; this side sends the job, shows progress, streams segments
into the editor when asked to, and formats the result (text, SRT, VTT, JSON).
"""

from __future__ import annotations

import asyncio
import functools
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
    events,
    wire_form,
)

from .models import BUNDLED, ModelError, installed_models, model_languages
from .packaged import PACKAGED
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
        # A packaged model is ready (assembled, verified) before a job names it; if it
        # cannot be, the job runs on the bundled model (the user was warned once).
        if model.name in PACKAGED:
            in_use = await self._plugin.packaged.in_use(model.name)
            model = attrs.evolve(model, name=in_use)
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
        self.packaged = PackagedModels(ctx)
        ctx.provide("speech.transcribe", self.transcriber)
        ctx.provide("status.model", self.model_status)
        ctx.command(
            "butler.transcribeFile", self.transcribe_file, arguments=TranscribeFileArguments
        )
        # Once the editor listens (progress needs it), and again when model.name changes.
        ctx.connect(events.server_started, self._model_settings_changed)
        ctx.connect(events.config_changed, self._model_settings_changed)

    def _model_settings_changed(self, sender: Any, **kwargs: Any) -> None:
        name = self.ctx.settings.get(ModelSettings).name
        previous = kwargs.get("previous")
        renamed = previous is not None and previous.get(ModelSettings).name != name
        self.packaged.start(name, again=renamed)

    async def model_status(self) -> dict[str, Any]:
        """``{name, inUse, loaded, state, languages, installed, problem?}``: loaded when a live
        worker reports the model in use in memory; installed lists what this install offers."""
        name = self.ctx.settings.get(ModelSettings).name
        in_use = self.packaged.in_use_now(name)
        jobs = self.ctx.get("queue.jobs")
        workers = jobs.workers() if jobs is not None else {}
        loaded = any(in_use in (info.get("models") or []) for info in workers.values())
        state = "loaded" if loaded else ("not loaded" if workers else "not started")
        installed = await asyncio.to_thread(installed_models, self.packaged.models_dir)
        for model in installed:
            if model["name"] in self.packaged.preparing:
                model["state"] = "assembling"
        listed = {model["name"]: model for model in installed}
        if in_use in listed:
            languages = listed[in_use]["languages"]
        else:  # a model folder or a cached name: read from its files when it is a folder
            languages = await asyncio.to_thread(_folder_languages, in_use)
        answer = {
            "name": name,
            "inUse": in_use,
            "loaded": loaded,
            "state": state,
            "languages": languages,
            "installed": installed,
        }
        if name in self.packaged.problems:
            answer["problem"] = self.packaged.problems[name]
        return answer

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


class PackagedModels:
    """The server's side of packaged models (``base``): assembled and verified once, in a
    thread, with progress in the editor; a model that cannot be is replaced by tiny.en."""

    def __init__(self, ctx: PluginContext) -> None:
        self.ctx = ctx
        self.models_dir = ctx.data_dir / "models"
        self.problems: dict[str, str] = {}
        """Why a packaged model is not in use, by name (the user was warned)."""
        self.preparing: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, *, again: bool = False) -> asyncio.Task[None] | None:
        """Begin preparing ``name`` if it is a packaged model not prepared yet; ``again``
        tries once more one that failed (the user named it anew: reinstalled, maybe)."""
        if name not in PACKAGED:
            return None
        task = self._tasks.get(name)
        if task is not None and again and task.done() and name in self.problems:
            task = None
        if task is None:
            self.problems.pop(name, None)
            task = self.ctx.run_task(self._prepare(name), f"prepare-{name}")
            self._tasks[name] = task
        return task

    async def in_use(self, name: str) -> str:
        """The model a job should name for ``model.name``: waits for a packaged one to be
        ready; tiny.en when it cannot be."""
        task = self.start(name)
        if task is not None:
            # Shielded: a cancelled request must not stop the assembly for the next one.
            await asyncio.shield(task)
        return self.in_use_now(name)

    def in_use_now(self, name: str) -> str:
        """The model in use for ``model.name`` as things stand."""
        return BUNDLED if name in self.problems else name

    async def _prepare(self, name: str) -> None:
        from .packaged import assembled, prepare

        model = PACKAGED[name]
        if await asyncio.to_thread(assembled, model, self.models_dir):
            return  # verified before, and unchanged since: nothing to show
        self.preparing.add(name)
        progress = self.ctx.progress(f"Butler: preparing the {name} model")
        done = [0, model.size]

        def on_progress(joined: int, total: int) -> None:
            done[:] = [joined, total]

        await progress.begin()
        try:
            # A thread's future, awaited here (this task is owned through ctx.run_task);
            # its progress is read every 0.2 s rather than sent from the thread.
            work = asyncio.get_running_loop().run_in_executor(
                None, functools.partial(prepare, name, self.models_dir, on_progress)
            )
            message, shown = f"checking and joining {model.size / 1e6:,.0f} MB", -1
            while not work.done():
                await asyncio.wait({work}, timeout=0.2)
                percent = min(100, 100 * done[0] // max(1, done[1]))
                if percent != shown:
                    shown = percent
                    await progress.report(message, percent)
            work.result()
            logger.info("the %s model is assembled and verified", name)
        except Exception as exc:
            if not isinstance(exc, ModelError):
                logger.exception("preparing the %s model failed", name)
                exc = ModelError(
                    f"the {name} model cannot be prepared ({type(exc).__name__}: {exc})"
                )
            self.problems[name] = str(exc)
            self.ctx.show_warning(f"Butler: {exc}. Until then Butler transcribes with {BUNDLED}.")
        finally:
            self.preparing.discard(name)
            await progress.end()


def _folder_languages(name: str) -> list[str] | None:
    path = Path(name).expanduser()
    return model_languages(path if path.is_dir() else None, name)


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
