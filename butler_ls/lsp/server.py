"""The Butler language server: settings, plugins and commands wired to the LSP.

Kept small on purpose: features live in plugins; this module only hosts them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.workspace import TextDocument

from butler_ls import __version__
from butler_ls.host import events
from butler_ls.host.capabilities import CapabilityRegistry
from butler_ls.host.hosting import CompletionProvider
from butler_ls.host.manager import PluginManager
from butler_ls.lsp.command_table import CommandTable
from butler_ls.lsp.core_commands import register_core_commands
from butler_ls.lsp.protocol import ButlerProtocol
from butler_ls.lsp.transport import ResilientLanguageServer
from butler_ls.util.config import Settings, SettingsSources, load_settings_file, parse_settings
from butler_ls.util.log import LspLogHandler
from butler_ls.util.paths import Paths, builtin_plugins_dir
from butler_ls.util.processes import pid_alive
from butler_ls.util.startup import resume_collection
from butler_ls.util.tasks import TaskRunner, set_default_runner

logger = logging.getLogger(__name__)

SETTINGS_SECTION = "butler"
SHUTDOWN_TASK_SECONDS = 2.0  # how long shutdown waits for cancelled background tasks
AFTER_ANSWER_SECONDS = 0.05  # garbage collection resumes this long after the initialize answer
FAILURES_ONLY_LOGGED_BY = frozenset({"helix"})
"""Clients (initialize's ``clientInfo.name``) that write a failed ``workspace/executeCommand``
only to their log: Butler also shows them the error with ``window/showMessage``."""


class ButlerServer(ResilientLanguageServer):
    """The language server; one per editor session."""

    def __init__(self, paths: Paths | None = None) -> None:
        super().__init__(
            "butler-ls",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=ButlerProtocol,
        )
        self.paths = paths or Paths.default()
        self.registry = CapabilityRegistry()
        self.sources = SettingsSources()
        self.settings = Settings()
        self.plugin_manager = PluginManager(self, report=self.show_warning)
        self.commands = CommandTable()
        self.completion_providers: list[CompletionProvider] = []
        self.tasks = TaskRunner()
        """Every background task of this server: owned, failures logged, cancelled at shutdown."""
        set_default_runner(self.tasks)  # events' async receivers and the supervisor use it
        self._reported: set[str] = set()
        self.client_name: str | None = None
        """``clientInfo.name`` from initialize, if the client sent one."""

    # -- helpers for plugins -------------------------------------------------------

    def run_task(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; the server keeps a reference and logs failures."""
        return self.tasks.spawn(coro, name)

    def show_warning(self, message: str) -> None:
        """Tell the user once, with ``window/showMessage`` (repeats are only logged)."""
        if message in self._reported:
            return
        self._reported.add(message)
        try:
            self.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Warning, message=message)
            )
        except Exception:  # no client yet (unit tests) or the pipe is gone
            logger.debug("could not send showMessage", exc_info=True)

    def show_command_failure(self, message: str) -> None:
        """Show a command's error to users of clients that would only log it (every time:
        each failure is the answer to something the user just did)."""
        if self.client_name not in FAILURES_ONLY_LOGGED_BY:
            return
        try:
            self.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Error, message=message)
            )
        except Exception:  # the pipe is gone
            logger.debug("could not send showMessage", exc_info=True)

    # -- settings ----------------------------------------------------------------

    def apply_settings(self) -> list[str]:
        """Re-validate the merged sources; warn about bad keys; signal the change."""
        schema = self.plugin_manager.settings_schema()
        previous = self.settings
        self.settings, warnings = parse_settings(self.sources.merged(), schema)
        for warning in warnings:
            logger.warning("settings: %s", warning)
            self.show_warning(f"Butler settings: {warning}")
        if self.settings != previous:
            events.emit(events.config_changed, self, settings=self.settings, previous=previous)
        return warnings

    async def pull_workspace_settings(self) -> None:
        """Ask the client for the ``butler`` section (if it supports workspace/configuration)."""
        caps = self.client_capabilities.workspace
        if caps is None or not caps.configuration:
            return
        try:
            result = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SETTINGS_SECTION)])
            )
        except Exception:
            logger.warning("the client did not answer workspace/configuration", exc_info=True)
            return
        value = result[0] if result else None
        self.sources.workspace = value if isinstance(value, dict) else {}
        self.apply_settings()

    def document_for_path(self, path: Path) -> TextDocument | None:
        """The client's open document for file ``path``, if it has one open."""
        try:
            documents = list(self.workspace.text_documents.values())
        except RuntimeError:
            return None
        target = path.resolve()
        for document in documents:
            if document.path and Path(document.path).resolve() == target:
                return document
        return None

    def workspace_root(self) -> Path | None:
        """The first workspace folder, if the client opened one."""
        try:
            folders = self.workspace.folders
            root = self.workspace.root_path
        except RuntimeError:
            return None
        if folders:
            from pygls.uris import to_fs_path

            first = next(iter(folders.values()))
            path = to_fs_path(first.uri)
            return Path(path) if path else None
        return Path(root) if root else None


def create_server(paths: Paths | None = None) -> ButlerServer:
    """Build a server with its LSP features registered."""
    ls = ButlerServer(paths)
    register_core_commands(ls)

    @ls.feature(types.INITIALIZE)
    async def initialize(ls: ButlerServer, params: types.InitializeParams) -> None:
        loop = asyncio.get_running_loop()
        events.bind_loop(loop)
        logging.getLogger().addHandler(LspLogHandler(ls, loop))
        ls.client_name = params.client_info.name if params.client_info else None
        ls.paths.ensure()
        file_raw, problems = load_settings_file(ls.paths.config_file)
        for problem in problems:
            logger.warning("%s", problem)
            ls.show_warning(f"Butler settings: {problem}")
        ls.sources.file = file_raw
        options = params.initialization_options
        ls.sources.initialization = options if isinstance(options, dict) else {}
        # First pass: plugins.* decides where to look for plugins.
        bootstrap, _ = parse_settings(ls.sources.merged())
        folders = [("builtin", builtin_plugins_dir()), ("user", ls.paths.user_plugins_dir)]
        folders += [("path", Path(os.path.expanduser(p))) for p in bootstrap.plugins.paths]
        ls.plugin_manager.discover(folders)
        ls.plugin_manager.load_schemas(bootstrap.plugins.disabled)
        ls.apply_settings()
        await ls.plugin_manager.activate_all(ls.settings.plugins.disabled)
        for command_id in ls.plugin_manager.declared_commands() + ls.commands.ids():
            _expose(ls, command_id)
        if ls.completion_providers:
            _expose_completion(ls)
        if params.process_id:
            ls.run_task(_watch_parent(ls, params.process_id), name="watch-parent")
        # Once the answer is written (it goes out when this handler returns).
        loop.call_later(AFTER_ANSWER_SECONDS, resume_collection)

    @ls.feature(types.INITIALIZED)
    async def initialized(ls: ButlerServer, params: types.InitializedParams) -> None:
        events.emit(events.initialized, ls)
        await ls.pull_workspace_settings()
        events.emit(events.server_started, ls)

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: ButlerServer, params: Any) -> None:
        settings = getattr(params, "settings", None)
        if isinstance(settings, dict) and isinstance(settings.get(SETTINGS_SECTION), dict):
            # Push-style clients send the new values along.
            ls.sources.workspace = settings[SETTINGS_SECTION]
            ls.apply_settings()
        else:
            await ls.pull_workspace_settings()

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ButlerServer, params: types.DidOpenTextDocumentParams) -> None:
        events.emit(events.document_opened, ls, uri=params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ButlerServer, params: types.DidChangeTextDocumentParams) -> None:
        events.emit(
            events.document_changed,
            ls,
            uri=params.text_document.uri,
            changes=params.content_changes,
            version=params.text_document.version,
        )

    @ls.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: ButlerServer, params: types.DidSaveTextDocumentParams) -> None:
        events.emit(events.document_saved, ls, uri=params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ButlerServer, params: types.DidCloseTextDocumentParams) -> None:
        events.emit(events.document_closed, ls, uri=params.text_document.uri)

    @ls.feature(types.SHUTDOWN)
    async def shutdown(ls: ButlerServer, *args: Any) -> None:
        events.emit(events.server_stopping, ls)
        await ls.plugin_manager.deactivate_all()
        await ls.tasks.close(timeout=SHUTDOWN_TASK_SECONDS)

    return ls


def _expose(ls: ButlerServer, command_id: str) -> None:
    """Register one pygls command that dispatches through the command table."""
    if command_id in ls.protocol.fm.commands:
        return

    async def dispatch(ls: ButlerServer, *arguments: Any) -> Any:
        unavailable = ls.plugin_manager.unavailable_reason(command_id)
        try:
            return await ls.commands.execute(command_id, arguments, unavailable)
        except JsonRpcException as exc:
            ls.show_command_failure(exc.message)
            raise

    ls.command(command_id)(dispatch)


def _expose_completion(ls: ButlerServer) -> None:
    """One ``textDocument/completion`` handler that merges every plugin's items."""
    triggers = sorted({c for _, _, chars in ls.completion_providers for c in chars})
    options = types.CompletionOptions(trigger_characters=triggers or None)

    @ls.feature(types.TEXT_DOCUMENT_COMPLETION, options)
    async def completion(ls: ButlerServer, params: types.CompletionParams) -> types.CompletionList:
        items: list[types.CompletionItem] = []
        for owner, handler, _ in list(ls.completion_providers):
            try:
                result = handler(params)
                if inspect.isawaitable(result):
                    result = await result
            except Exception:
                logger.exception("completion of plugin %s failed", owner)
                continue
            items.extend(result or [])
        return types.CompletionList(is_incomplete=False, items=items)


async def _watch_parent(ls: ButlerServer, pid: int) -> None:
    """Exit when the editor that started us is gone (LSP: initialize's processId)."""
    while True:
        await asyncio.sleep(2.0)
        if not pid_alive(pid):
            logger.warning("the editor (pid %d) is gone; exiting", pid)
            await ls.plugin_manager.deactivate_all()
            os._exit(1)
