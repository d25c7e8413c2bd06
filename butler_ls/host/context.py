"""PluginContext: one plugin's handle on Butler, given to its ``activate``.

Everything a plugin does with the editor goes through here; the server stays private.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blinker
from lsprotocol import types

from butler_ls.host.editing import Anchor, apply_edit
from butler_ls.host.hosting import CommandEntry
from butler_ls.host.progress import Progress
from butler_ls.util.errors import ButlerError

if TYPE_CHECKING:
    from pygls.workspace import TextDocument

    from butler_ls.host.capabilities import CapabilityRegistry
    from butler_ls.host.hosting import HostServer
    from butler_ls.host.manifest import PluginManifest
    from butler_ls.util.config import Settings

logger = logging.getLogger(__name__)


class PluginContext:
    """One plugin's handle on the server, given to ``activate``."""

    def __init__(
        self,
        manifest: PluginManifest,
        server: HostServer,
        sections: Mapping[str, type] | None = None,
    ) -> None:
        self.manifest = manifest
        self._server = server
        self._sections = dict(sections or {})
        self.logger = logging.getLogger(f"butler_ls.plugins.{manifest.id}")
        self._receivers: list[tuple[blinker.Signal, Callable[..., Any]]] = []

    @property
    def plugin_id(self) -> str:
        """This plugin's id."""
        return self.manifest.id

    @property
    def registry(self) -> CapabilityRegistry:
        """The shared capability registry."""
        return self._server.registry

    # -- settings and folders ------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The current, validated ``butler`` settings (they change on config reload)."""
        return self._server.settings

    @property
    def plugin_settings(self) -> Any:
        """This plugin's own section (named after its id): an instance of its settings class
        when ``schema:`` names one, else its manifest defaults with the user's values (a dict).

        A plugin's other sections (``notes``, ``model``...) are ``settings.get(TheirClass)``.
        """
        section = self._server.settings.section(self.plugin_id)
        if section is not None:
            return section
        cls = self._sections.get(self.plugin_id)
        return cls() if cls is not None else dict(self.manifest.settings)

    @property
    def data_dir(self) -> Path:
        """A private folder of this plugin's own in Butler's data folder."""
        return self._server.paths.plugin_data_dir(self.plugin_id)

    @property
    def log_dir(self) -> Path:
        """Butler's log folder (for the logs of processes a plugin starts)."""
        return self._server.paths.log_dir

    @property
    def queue_dir(self) -> Path:
        """Butler's default task-queue folder (``queue.directory`` overrides it)."""
        return self._server.paths.queue_dir

    def workspace_root(self) -> Path | None:
        """The first workspace folder, if the client opened one."""
        return self._server.workspace_root()

    # -- registration --------------------------------------------------------------

    def command(
        self,
        command_id: str,
        handler: Callable[[Any], Any],
        *,
        arguments: type | None = None,
        thread: bool = False,
    ) -> None:
        """Handle ``command_id`` (listed under ``commands`` in plugin.yaml).

        ``arguments`` is the attrs class of the command's JSON-object argument;
        ``thread`` runs a blocking handler off the event loop.
        """
        declared = {spec.id for spec in self.manifest.commands}
        if command_id not in declared:
            raise ButlerError(
                f"plugin {self.plugin_id} registers command {command_id}, which its "
                f"plugin.yaml does not list under 'commands'; add it there"
            )
        self._server.commands.add(
            CommandEntry(command_id, self.plugin_id, handler, arguments, thread)
        )

    def completion(
        self,
        handler: Callable[[Any], Any],
        *,
        trigger_characters: Sequence[str] = (),
    ) -> None:
        """Offer ``textDocument/completion`` items.

        ``handler`` gets the ``CompletionParams`` and returns a list of
        ``CompletionItem`` (or None); it may be ``async``. The server merges the
        items of every plugin, so plugins never fight over the method.
        """
        self._server.completion_providers.append(
            (self.plugin_id, handler, tuple(trigger_characters))
        )

    def provide(self, name: str, provider: object, *, replace: bool = False) -> None:
        """Offer capability ``name`` (listed under ``provides`` in plugin.yaml)."""
        if name not in self.manifest.provides:
            raise ButlerError(
                f"plugin {self.plugin_id} provides capability {name}, which its "
                f"plugin.yaml does not list under 'provides'; add it there"
            )
        self.registry.provide(name, provider, provider_id=self.plugin_id, replace=replace)

    def get(self, name: str, default: object = None) -> object:
        """The provider of capability ``name``, or ``default``."""
        return self.registry.get(name, default)

    def require(self, name: str) -> object:
        """The provider of capability ``name``; CapabilityMissing if there is none."""
        return self.registry.require(name)

    def connect(self, signal: blinker.Signal, receiver: Callable[..., Any]) -> None:
        """Receive ``signal`` until this plugin deactivates (see butler_ls.host.events)."""
        signal.connect(receiver, weak=False)
        self._receivers.append((signal, receiver))

    def run_task(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run a coroutine in the background, owned by the server's task runner.

        Its failure is logged once with the traceback; shutdown cancels it if it still runs
        after ``deactivate``. Call it on the server's loop (from a handler or a coroutine).
        """
        return self._server.run_task(coro, name=f"{self.plugin_id}:{name}")

    # -- the editor ------------------------------------------------------------------

    @property
    def client_capabilities(self) -> types.ClientCapabilities:
        """What the client said it supports in ``initialize``."""
        return self._server.client_capabilities

    def document(self, uri: str) -> TextDocument | None:
        """The client's open document ``uri``, or None when it is not open."""
        try:
            return self._server.workspace.text_documents.get(uri)
        except RuntimeError:  # before initialize: no workspace yet
            return None

    def document_for_path(self, path: Path) -> TextDocument | None:
        """The client's open document for file ``path``, or None."""
        return self._server.document_for_path(path)

    def open_uris(self) -> list[str]:
        """The uris of the documents open in the client."""
        try:
            return list(self._server.workspace.text_documents)
        except RuntimeError:
            return []

    def show_warning(self, message: str) -> None:
        """Tell the user once, with ``window/showMessage`` (repeats are only logged)."""
        self._server.show_warning(message)

    async def show_document(self, uri: str, *, take_focus: bool = True) -> bool:
        """Ask the editor to show ``uri``; False when it cannot or did not.

        Showing is a courtesy: a failure is logged, never raised.
        """
        window = self.client_capabilities.window
        if not (window and window.show_document and window.show_document.support):
            return False
        try:
            result = await self._server.window_show_document_async(
                types.ShowDocumentParams(uri=uri, take_focus=take_focus)
            )
        except Exception as exc:
            logger.warning("the editor could not show %s: %s", uri, exc)
            return False
        if not result.success:
            logger.info("the editor did not show %s", uri)
        return bool(result.success)

    def notify(self, method: str, params: Any) -> None:
        """Send the client a notification (a plugin's own method, like ``butler/...``)."""
        self._server.protocol.notify(method, params)

    def progress(self, title: str) -> Progress:
        """A ``$/progress`` helper: ``begin``, ``report``, ``cancelled``, ``end``."""
        return Progress(self._server, title)

    async def apply_edit(
        self,
        uri: str,
        plan: Callable[[TextDocument], types.TextEdit | None],
        *,
        label: str = "Butler",
        ready: Callable[[TextDocument], bool] | None = None,
    ) -> bool:
        """Edit open document ``uri``: versioned, planned afresh and retried if refused.

        ``plan`` gets the document as it is now and returns the ``TextEdit`` (None: nothing
        to do). False when ``uri`` is not open; EditRefused when the editor kept refusing.
        """
        return await apply_edit(self._server, uri, plan, label=label, ready=ready)

    def anchor(self, uri: str, position: types.Position | None = None) -> Anchor:
        """An insertion point in open document ``uri`` (default: its end) that follows
        the user's edits; ``detach`` it when done."""
        return Anchor(self._server, uri, position)

    def close(self) -> None:
        """Disconnect this plugin's receivers (called by the plugin manager)."""
        self._server.completion_providers[:] = [
            p for p in self._server.completion_providers if p[0] != self.plugin_id
        ]
        for signal, receiver in self._receivers:
            signal.disconnect(receiver)
        self._receivers.clear()
