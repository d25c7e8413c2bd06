"""The server's own commands: ``butler.status`` and ``butler.plugins.list``.

Parts owned by later features (worker, queue, model, audio) come from ``status.*``
capabilities; until a plugin provides one, the answer says so plainly.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING, Any, Protocol

from butler_ls import __version__
from butler_ls.host.hosting import HostServer
from butler_ls.lsp.command_table import CommandEntry
from butler_ls.util.config import to_wire

if TYPE_CHECKING:
    from butler_ls.host.manager import PluginManager

logger = logging.getLogger(__name__)

CORE = "core"

# Status sections that plugins fill by providing the capability "status.<section>":
# a callable returning a JSON-ready dict (or an awaitable of one). These four are always
# present; a plugin may add more sections (daily_writer adds "notes").
STATUS_SECTIONS = ("worker", "queue", "model", "audio")
SECTION_SECONDS = 1.0
"""How long butler.status waits for one plugin's section before it answers without it."""


class CoreHost(HostServer, Protocol):
    """The server as the core commands see it: a plugin host with its plugin manager."""

    plugin_manager: PluginManager


def register_core_commands(ls: CoreHost) -> None:
    """Add the core commands to the server's command table."""
    ls.commands.add(CommandEntry("butler.status", CORE, lambda _: status(ls)))
    ls.commands.add(CommandEntry("butler.plugins.list", CORE, lambda _: plugins_list(ls)))


def plugins_list(ls: CoreHost) -> dict[str, Any]:
    """``{plugins: [...]}``: every plugin found, with its state and the reason."""
    return {"plugins": ls.plugin_manager.listing()}


async def status(ls: CoreHost) -> dict[str, Any]:
    """The answer of ``butler.status`` (docs/commands.md)."""
    answer: dict[str, Any] = {
        "version": __version__,
        "plugins": ls.plugin_manager.listing(),
        "capabilities": ls.registry.names(),
    }
    # A plugin's section may not shadow the answer's own fields.
    reserved = {*answer, "settings", "paths"}
    extra = [
        name
        for n in ls.registry.names()
        if n.startswith("status.") and (name := n.removeprefix("status.")) not in reserved
    ]
    sections = list(dict.fromkeys([*STATUS_SECTIONS, *extra]))
    # Side by side: the answer takes as long as the slowest section, not their sum.
    values = await asyncio.gather(*(_section(ls, section) for section in sections))
    answer.update(zip(sections, values, strict=True))
    answer["settings"] = to_wire(ls.settings)
    if answer["settings"]["queue"].get("url"):
        answer["settings"]["queue"]["url"] = redact_url(answer["settings"]["queue"]["url"])
    answer["paths"] = {
        "config": str(ls.paths.config_file),
        "data": str(ls.paths.data_dir),
        "log": str(ls.paths.log_dir),
    }
    return answer


def redact_url(url: str) -> str:
    """``redis://user:secret@host`` -> ``redis://user:***@host`` (status is shown to people)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        return urlunsplit(
            parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
        )
    return url


async def _section(ls: CoreHost, section: str) -> dict[str, Any]:
    provider = ls.registry.get(f"status.{section}")
    if provider is not None:
        try:
            value = provider()
            if inspect.isawaitable(value):
                value = await asyncio.wait_for(value, SECTION_SECONDS)
            return dict(value)
        except TimeoutError:
            reason = f"the {section} section did not answer within {SECTION_SECONDS:g} s"
            logger.warning("butler.status: %s", reason)
            return {"state": "error", "reason": reason}
        except Exception as exc:
            logger.exception("status.%s failed", section)
            return {"state": "error", "reason": f"{type(exc).__name__}: {exc}"}
    return _not_started(ls, section)


def _not_started(ls: CoreHost, section: str) -> dict[str, Any]:
    """A status section no active plugin provides (its plugin is disabled or failed)."""
    settings = ls.settings
    why = f"no active plugin provides status.{section}; butler.plugins.list says why"
    if section == "worker":
        return {"state": "not started", "reason": why}
    if section == "queue":
        return {"backend": settings.queue.backend, "pending": 0, "state": "not started"}
    if section == "model":
        # The model's plugin owns the ``model`` section; its name is shown if it is known.
        name = getattr(settings.section("model"), "name", None)
        return {"name": name, "loaded": False, "state": "not started"}
    return {"available": False, "reason": why}
