"""What a plugin sees of Butler: import everything from here, nothing else of ``butler_ls``.

Plugins never import each other; they talk through capabilities, signals and commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from butler_ls.doctor.checks import Check, DoctorContext, probe_folder
from butler_ls.host import events
from butler_ls.host.context import PluginContext
from butler_ls.lsp.command_table import FilePath, NoArguments, PositionArgument
from butler_ls.lsp.core_commands import redact_url
from butler_ls.lsp.editing import Anchor, DocumentClosed, EditRefused, Span, workspace_edit
from butler_ls.lsp.positions import client_position
from butler_ls.lsp.progress import Progress
from butler_ls.util.audio_format import SAMPLE_RATE
from butler_ls.util.config import (
    Settings,
    between,
    section_of,
    setting,
    to_wire,
    wire_form,
)
from butler_ls.util.errors import (
    ButlerError,
    CapabilityMissing,
    InvalidArguments,
    WriteError,
    shorten,
)
from butler_ls.util.processes import neutral_cwd, pid_alive, python_command
from butler_ls.util.safe_write import append_text, atomic_write, file_lock, update_file

if TYPE_CHECKING:
    from butler_ls.queue.tasks import JobContext, JobFailed


def __getattr__(name: str) -> Any:
    # The worker's side (JobContext, JobFailed) loads Huey: only job modules ask for it,
    # never a plugin's activation in the server.
    if name in ("JobContext", "JobFailed"):
        from butler_ls.queue import tasks

        return getattr(tasks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Plugin:
    """Base class for plugins; any class with ``activate``/``deactivate`` works as well."""

    def activate(self, ctx: PluginContext) -> Any:
        """Register commands and capabilities; may be ``async``. Keep it quick."""

    def deactivate(self) -> Any:
        """Release what ``activate`` took; may be ``async``. Capabilities, commands and
        signal receivers registered through the context are removed automatically."""


__all__ = [
    "SAMPLE_RATE",
    "Anchor",
    "ButlerError",
    "CapabilityMissing",
    "Check",
    "DoctorContext",
    "DocumentClosed",
    "EditRefused",
    "FilePath",
    "InvalidArguments",
    "JobContext",
    "JobFailed",
    "NoArguments",
    "Plugin",
    "PluginContext",
    "PositionArgument",
    "Progress",
    "Settings",
    "Span",
    "WriteError",
    "append_text",
    "atomic_write",
    "between",
    "client_position",
    "events",
    "file_lock",
    "neutral_cwd",
    "pid_alive",
    "probe_folder",
    "python_command",
    "redact_url",
    "section_of",
    "setting",
    "shorten",
    "to_wire",
    "update_file",
    "wire_form",
    "workspace_edit",
]
