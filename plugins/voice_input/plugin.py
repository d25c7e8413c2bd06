"""The ``voice_input`` plugin: live dictation from the microphone (or a recording) into the editor.

Commands ``butler.dictation.start/stop/toggle/cancel``; ``butler/dictationState`` while it
runs; utterances a dead server left in the spool are transcribed into today's note.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from butler_ls.plugin_api import (
    Anchor,
    ButlerError,
    FilePath,
    InvalidArguments,
    Plugin,
    PluginContext,
    PositionArgument,
    neutral_cwd,
)

from .identifiers import DictatedWords
from .recovery import recover_orphans
from .settings import AudioSettings, VoiceInputSettings, model_language
from .spool import Spool
from .voice_commands import Rules, rules_for

if TYPE_CHECKING:  # the voice detector loads when dictation first starts, not with the server
    from .segmenter import Segmenter
    from .session import DictationSession

logger = logging.getLogger(__name__)

AUDIO_STATUS_SECONDS = 5.0
"""How long ``butler.status`` trusts its last look at the microphones."""

PROBE_SECONDS = 10.0
"""How long the look at the microphones may take."""

PROBE_SCRIPT = Path(__file__).with_name("audio_input.py")
"""Run as a script in its own process: it imports none of its siblings."""


@attrs.frozen
class StartArguments:
    """Argument of ``butler.dictation.start`` (and ``toggle``)."""

    uri: str | None = None
    """The document to dictate into (``target: cursor``)."""

    path: FilePath | None = None
    """The document as a file path instead of ``uri``: absolute, with ``~``, or relative to
    the workspace folder; the file must be open in the editor."""

    position: PositionArgument | None = None
    """Where in the document (default: its end); the text follows the user's edits from there."""

    line: int | None = None
    """Where, as an editor shows it, instead of ``position``: the line, from 1."""

    column: int | None = None
    """With ``line``: the column, from 1, counted in characters (code points); default 1."""

    target: Literal["cursor", "dailyNote"] = "cursor"
    """``cursor``: into ``uri``; ``dailyNote``: each utterance a timestamped entry of today's."""

    audio_file: FilePath | None = None
    """A recording to play as if it were the microphone (relative to the workspace folder)."""

    speed: float = 1.0
    """Playback speed of ``audioFile``: 1.0 is real time, 0.1 to 100."""

    def check(self) -> None:
        """Refuse values the types allow but dictation cannot use."""
        if not 0.1 <= self.speed <= 100:
            raise InvalidArguments(
                f"speed: must be between 0.1 and 100 (1.0 is real time), not {self.speed}",
                field="speed",
            )
        if self.uri is not None and self.path is not None:
            raise InvalidArguments(
                "uri, path: both name the document; give one of them, not both", field="path"
            )
        if self.position is not None and (self.line is not None or self.column is not None):
            raise InvalidArguments(
                "position, line/column: both say where; give position (from 0, in the "
                "editor's position encoding) or line and column (from 1), not both",
                field="line",
            )
        for name, value in (("line", self.line), ("column", self.column)):
            if value is not None and value < 1:
                raise InvalidArguments(f"{name}: counts from 1, not {value}", field=name)
        if self.column is not None and self.line is None:
            raise InvalidArguments("column: needs line as well (both count from 1)", field="column")

    def on_document(self, ctx: PluginContext) -> StartArguments:
        """These arguments with ``path`` turned into the open document's ``uri``, and
        ``line`` and ``column`` into its ``position``, as the rest of dictation takes them."""
        if self.target != "cursor" or (self.path is None and self.line is None):
            return self
        uri = self.uri
        if self.path is not None:
            path = Path(self.path).expanduser()
            if not path.is_absolute():
                path = (ctx.workspace_root() or Path.cwd()) / path
            document = ctx.document_for_path(path)
            if document is None:
                raise InvalidArguments(
                    f"path: {path} is not open in the editor; open it first, or use target "
                    "'dailyNote'",
                    field="path",
                )
            uri = document.uri
        position = self.position
        document = ctx.document(uri) if uri else None
        if self.line is not None and document is not None:  # else: refused as uri is
            position = PositionArgument.at_line_column(document, self.line, self.column or 1)
        return attrs.evolve(self, uri=uri, path=None, position=position, line=None, column=None)


@attrs.frozen
class SessionArguments:
    """Argument of ``butler.dictation.stop`` and ``cancel``."""

    session_id: str | None = None
    """The session (default: the running one)."""


class VoiceCapture:
    """The ``voice.capture`` capability: start and stop dictation from other plugins."""

    def __init__(self, plugin: VoiceInputPlugin) -> None:
        self._plugin = plugin

    async def start(self, **arguments: Any) -> str:
        """Start a session (arguments as ``butler.dictation.start``); returns its id."""
        position = arguments.get("position")
        if isinstance(position, dict):
            arguments["position"] = PositionArgument(**position)
        args = StartArguments(**arguments)
        answer = await self._plugin.start(args)
        return answer["sessionId"]

    async def stop(self, session_id: str | None = None) -> dict[str, Any]:
        """Stop a session once its text is in; returns ``{sessionId, text, utterances}``."""
        return await self._plugin.stop(SessionArguments(session_id))


class VoiceInputPlugin(Plugin):
    """Registers the dictation commands, ``voice.capture`` and ``status.audio``."""

    def activate(self, ctx: PluginContext) -> None:
        """Offer the commands; look for dictation a dead server left behind."""
        self.ctx = ctx
        self.spool = Spool(ctx.data_dir / "spool")
        self.session: DictationSession | None = None
        self.finished: dict[str, DictationSession] = {}
        self.dictated = DictatedWords()
        self._audio_status: tuple[float, dict[str, Any]] | None = None
        # A double key press must not open two sessions: starts and toggles take turns.
        self._starting = asyncio.Lock()
        ctx.provide("voice.capture", VoiceCapture(self))
        ctx.provide("status.audio", self.audio_status)
        ctx.command("butler.dictation.start", self.start, arguments=StartArguments)
        ctx.command("butler.dictation.stop", self.stop, arguments=SessionArguments)
        ctx.command("butler.dictation.toggle", self.toggle, arguments=StartArguments)
        ctx.command("butler.dictation.cancel", self.cancel, arguments=SessionArguments)
        ctx.run_task(recover_orphans(self.spool, ctx, self.rules), "recover-dictation")

    async def deactivate(self) -> None:
        """Stop a running session; its unapplied utterances stay in the spool."""
        if self.session is not None:
            session = self.session
            try:
                await asyncio.wait_for(session.stop(), 10)
            except Exception:
                logger.warning("dictation %s did not finish before shutdown", session.id)

    # --- settings --------------------------------------------------------------------------

    @property
    def settings(self) -> VoiceInputSettings:
        """The ``voice_input`` settings section."""
        return self.ctx.settings.get(VoiceInputSettings)

    @property
    def partial_text(self) -> bool:
        """Whether provisional text is sent while an utterance is spoken."""
        return self.settings.partial_text

    def rules(self, language: str | None = None) -> Rules:
        """Voice commands for ``language`` (default ``model.language``) with the user's
        overrides, which apply in every language."""
        language = language or model_language(self.ctx.settings)
        try:
            return rules_for(language, self.settings.commands)
        except ValueError as exc:
            self.ctx.show_warning(
                f"butler.voice_input.commands.{exc}; using the built-in voice commands"
            )
            return rules_for(language)

    def segmenter(self) -> Segmenter:
        """A segmenter with the user's pause length and limits."""
        from .segmenter import Segmenter, SegmenterSettings

        s = self.settings
        try:
            return Segmenter(
                SegmenterSettings(
                    silence_ms=s.silence_ms,
                    min_speech_ms=s.min_speech_ms,
                    max_utterance_s=s.max_utterance_seconds,
                    aggressiveness=s.vad_aggressiveness,
                )
            )
        except (ValueError, TypeError) as exc:
            self.ctx.show_warning(f"butler.voice_input: {exc}; using the default pause detection")
            return Segmenter()

    # --- commands --------------------------------------------------------------------------

    async def start(self, args: StartArguments) -> dict[str, Any]:
        """``butler.dictation.start``: open the source, then stream text as it is spoken."""
        async with self._starting:
            return await self._start(args)

    async def _start(self, args: StartArguments) -> dict[str, Any]:
        if self.session is not None and self.session.stopping:
            await self.session.done.wait()  # a new session right after the last one's text
        if self.session is not None:
            raise ButlerError(
                f"dictation is already running (session {self.session.id}); stop it first "
                "(butler.dictation.stop) or use butler.dictation.toggle"
            )
        args.check()
        args = args.on_document(self.ctx)
        anchor = self._anchor(args)
        session_id = None
        try:
            source = await asyncio.to_thread(self._source, args)
            new_id = uuid.uuid4().hex[:12]
            await asyncio.to_thread(
                self.spool.open_session,
                new_id,
                {"target": args.target, "uri": args.uri, "started": time.time()},
            )
            session_id = new_id
            jobs = self.ctx.get("queue.jobs")
            if jobs is not None:
                # The model loads while the user starts to speak, not after the first pause.
                self.ctx.run_task(jobs.ensure_worker(), "dictation-worker")
            from .session import DictationSession

            session = DictationSession(self, new_id, source, anchor, self.segmenter())
            self.session = session
            await session.start()
        except BaseException:
            if anchor is not None:
                anchor.detach()
            self.session = None
            if session_id is not None:
                await asyncio.to_thread(self.spool.close_session, session_id, discard=True)
            raise
        self._audio_status = None
        return {"sessionId": session_id}

    def _anchor(self, args: StartArguments) -> Anchor | None:
        if args.target == "dailyNote":
            return None
        if not args.uri:
            raise InvalidArguments(
                "uri: target 'cursor' needs the document to dictate into; pass its uri or "
                "path (and position, or line and column), or use target 'dailyNote'",
                field="uri",
            )
        if self.ctx.document(args.uri) is None:
            raise InvalidArguments(
                f"uri: {args.uri} is not open in the editor; open it first, or use target "
                "'dailyNote'",
                field="uri",
            )
        position = args.position.to_lsp() if args.position else None
        return self.ctx.anchor(args.uri, position)

    def _source(self, args: StartArguments) -> Any:
        from .sources import FileSource, MicrophoneSource

        if args.audio_file:
            path = Path(args.audio_file).expanduser()
            if not path.is_absolute():
                path = (self.ctx.workspace_root() or Path.cwd()) / path
            if not path.is_file():
                raise InvalidArguments(
                    f"audioFile: {path} does not exist or is not a file; check the path",
                    field="audioFile",
                )
            return FileSource(path, args.speed)
        return MicrophoneSource(self.ctx.settings.get(AudioSettings).device)

    async def stop(self, args: SessionArguments) -> dict[str, Any]:
        """``butler.dictation.stop``: answers once every pending utterance is applied."""
        session = self._find(args.session_id)
        return await session.stop()

    async def toggle(self, args: StartArguments) -> dict[str, Any]:
        """``butler.dictation.toggle``: stop the running session, else start one."""
        async with self._starting:
            session = self.session
            if session is None or session.stopping:
                return await self._start(args)
            session.stopping = True
        return await session.stop()

    async def cancel(self, args: SessionArguments) -> dict[str, Any]:
        """``butler.dictation.cancel``: stop, and insert nothing more."""
        session = self._find(args.session_id)
        await session.cancel()
        return {"sessionId": session.id}

    def _find(self, session_id: str | None) -> DictationSession:
        if session_id is None:
            if self.session is None:
                raise ButlerError("no dictation is running; start one with butler.dictation.start")
            return self.session
        if self.session is not None and self.session.id == session_id:
            return self.session
        if session_id in self.finished:
            return self.finished[session_id]
        raise InvalidArguments(
            f"sessionId: no dictation session {session_id!r} in this server", field="sessionId"
        )

    def session_ended(self, session: DictationSession) -> None:
        """Called by a session once everything is applied (or dropped)."""
        if self.session is session:
            self.session = None
        self.finished[session.id] = session
        while len(self.finished) > 20:
            self.finished.pop(next(iter(self.finished)))

    # --- status ----------------------------------------------------------------------------

    async def audio_status(self) -> dict[str, Any]:
        """``butler.status``'s audio section: is there a microphone to dictate from?"""
        session = self.session
        if session is not None and session.source.kind == "microphone":
            return {"available": True, "device": session.source.description, "state": "recording"}
        now = time.monotonic()
        if self._audio_status is not None and now - self._audio_status[0] < AUDIO_STATUS_SECONDS:
            return self._audio_status[1]
        status = await probe_microphone(self.ctx.settings.get(AudioSettings).device)
        self._audio_status = (time.monotonic(), status)
        return status


async def probe_microphone(device: str | int | None) -> dict[str, Any]:
    """Ask a short-lived process what PortAudio sees (see ``audio_input._main``)."""
    # -P: neither the working directory nor the script's folder goes on sys.path.
    command = [sys.executable, "-P", str(PROBE_SCRIPT)]
    if device is not None and device != "":
        command.append(str(device))
    process = None
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=neutral_cwd(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(process.communicate(), PROBE_SECONDS)
        return dict(json.loads(out))
    except TimeoutError:
        assert process is not None
        process.kill()
        await process.wait()
        reason = f"PortAudio did not answer within {PROBE_SECONDS:.0f} s"
    except (OSError, ValueError) as exc:
        reason = f"checking the microphone failed ({exc})"
    if process is not None and process.returncode not in (0, None):
        reason = f"PortAudio crashed while listing devices (exit status {process.returncode})"
    return {
        "available": False,
        "reason": f"{reason}; run `butler-ls doctor` to see what is wrong with the sound setup",
    }
