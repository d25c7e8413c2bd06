"""What a plugin sees of Butler: the Plugin base class and its PluginContext.

Plugins never import each other; they talk through capabilities, signals and commands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blinker

from butler_ls.host import events
from butler_ls.util.errors import ButlerError

if TYPE_CHECKING:
    import asyncio

    from butler_ls.host.capabilities import CapabilityRegistry
    from butler_ls.host.manifest import PluginManifest
    from butler_ls.lsp.server import ButlerServer
    from butler_ls.util.config import Settings


class Plugin:
    """Base class for plugins; any class with ``activate``/``deactivate`` works as well."""

    def activate(self, ctx: PluginContext) -> Any:
        """Register commands and capabilities; may be ``async``. Keep it quick."""

    def deactivate(self) -> Any:
        """Release what ``activate`` took; may be ``async``. Capabilities, commands and
        signal receivers registered through the context are removed automatically."""


class PluginContext:
    """One plugin's handle on the server, given to ``activate``."""

    def __init__(self, manifest: PluginManifest, server: ButlerServer) -> None:
        self.manifest = manifest
        self.server = server
        self.logger = logging.getLogger(f"butler_ls.plugins.{manifest.id}")
        self._receivers: list[tuple[blinker.Signal, Callable[..., Any]]] = []

    @property
    def plugin_id(self) -> str:
        """This plugin's id."""
        return self.manifest.id

    @property
    def registry(self) -> CapabilityRegistry:
        """The shared capability registry."""
        return self.server.registry

    @property
    def settings(self) -> Settings:
        """The current, validated ``butler`` settings (they change on config reload)."""
        return self.server.settings

    @property
    def plugin_settings(self) -> dict[str, Any]:
        """This plugin's own section: its manifest defaults with the user's values."""
        return self.server.settings.plugin_settings.get(
            self.plugin_id, dict(self.manifest.settings)
        )

    @property
    def data_dir(self) -> Path:
        """A private folder of this plugin's own in Butler's data folder."""
        return self.server.paths.plugin_data_dir(self.plugin_id)

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
        from butler_ls.lsp.command_table import CommandEntry

        declared = {spec.id for spec in self.manifest.commands}
        if command_id not in declared:
            raise ButlerError(
                f"plugin {self.plugin_id} registers command {command_id}, which its "
                f"plugin.yaml does not list under 'commands'; add it there"
            )
        self.server.commands.add(
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
        self.server.completion_providers.append(
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
        """Run a coroutine in the background, owned by the server; failures are logged."""
        return self.server.run_task(coro, name=f"{self.plugin_id}:{name}")

    def close(self) -> None:
        """Disconnect this plugin's receivers (called by the plugin manager)."""
        self.server.completion_providers[:] = [
            p for p in self.server.completion_providers if p[0] != self.plugin_id
        ]
        for signal, receiver in self._receivers:
            signal.disconnect(receiver)
        self._receivers.clear()


__all__ = ["Plugin", "PluginContext", "events"]
