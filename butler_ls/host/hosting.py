"""What the plugin host needs of the language server, as a typing Protocol.

The host and the server's own commands depend on this, not on ``ButlerServer``, so the
server can import the host without the host importing it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

if TYPE_CHECKING:
    from lsprotocol import types
    from pygls.workspace import TextDocument, Workspace

    from butler_ls.host.capabilities import CapabilityRegistry
    from butler_ls.util.config import Settings
    from butler_ls.util.paths import Paths

CompletionProvider = tuple[str, Callable[[Any], Any], tuple[str, ...]]
"""``(plugin id, handler, trigger characters)`` of one plugin's completion."""


@attrs.frozen
class CommandEntry:
    """One command: who owns it, what it takes and how it runs."""

    id: str
    """Dotted command id, as listed in ``executeCommandProvider``."""

    owner: str
    """Plugin id of the owner (``core`` for the server's own commands)."""

    handler: Callable[[Any], Any]
    """Called with the structured argument; may be a coroutine function."""

    arguments: type | None = None
    """attrs class of the argument object; None means it takes none."""

    thread: bool = False
    """Run a blocking (non-async) handler in a worker thread instead of on the event loop."""


class Commands(Protocol):
    """The server's command table, as the host uses it."""

    def add(self, entry: CommandEntry) -> None:
        """Register a command; a second command with the same id is an error."""
        ...

    def remove_owner(self, owner: str) -> list[str]:
        """Forget one plugin's commands."""
        ...


class HostServer(Protocol):
    """The members of the server that plugin contexts and the plugin manager use."""

    registry: CapabilityRegistry
    settings: Settings
    paths: Paths
    commands: Commands
    completion_providers: list[CompletionProvider]

    @property
    def workspace(self) -> Workspace:
        """The client's workspace: folders and open documents (pygls)."""
        ...

    @property
    def client_capabilities(self) -> types.ClientCapabilities:
        """What the client said it supports in ``initialize``."""
        ...

    @property
    def work_done_progress(self) -> Any:
        """pygls' ``$/progress`` helper (create_async, begin, report, end, tokens)."""
        ...

    @property
    def protocol(self) -> Any:
        """The JSON-RPC protocol, for ``notify``."""
        ...

    def run_task(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, owned by the server; failures are logged."""
        ...

    def show_warning(self, message: str) -> None:
        """Tell the user once, with ``window/showMessage``."""
        ...

    def document_for_path(self, path: Path) -> TextDocument | None:
        """The client's open document for file ``path``, if it has one open."""
        ...

    def workspace_root(self) -> Path | None:
        """The first workspace folder, if the client opened one."""
        ...

    async def workspace_apply_edit_async(
        self, params: types.ApplyWorkspaceEditParams
    ) -> types.ApplyWorkspaceEditResult:
        """``workspace/applyEdit`` (pygls)."""
        ...

    async def window_show_document_async(
        self, params: types.ShowDocumentParams
    ) -> types.ShowDocumentResult:
        """``window/showDocument`` (pygls)."""
        ...
