"""What a plugin sees of Butler: import everything from here, nothing else of ``butler_ls``.

Plugins never import each other; they talk through capabilities, signals and commands.
A plugin's worker-side code (job handlers, command-line tools) imports from the lighter
``butler_ls.job_api`` instead, whose names are here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from butler_ls import job_api
from butler_ls.doctor.checks import Check, DoctorContext, probe_folder
from butler_ls.host import events
from butler_ls.host.context import PluginContext
from butler_ls.host.editing import Anchor, DocumentClosed, EditRefused, Span, workspace_edit
from butler_ls.host.positions import client_position
from butler_ls.host.progress import Progress
from butler_ls.job_api import SAMPLE_RATE, Paths, expand_dotted, load_settings_file
from butler_ls.lsp.command_table import FilePath, NoArguments, PositionArgument
from butler_ls.lsp.core_commands import redact_url
from butler_ls.util.config import Settings, between, section_of, setting, to_wire, wire_form
from butler_ls.util.errors import (
    ButlerError,
    CapabilityMissing,
    InvalidArguments,
    WriteError,
    shorten,
)
from butler_ls.util.processes import neutral_cwd, pid_alive, python_command
from butler_ls.util.safe_write import (
    append_text,
    atomic_write,
    file_lock,
    fsync_folder,
    replace_durably,
    update_file,
)

if TYPE_CHECKING:
    from butler_ls.job_api import (
        AudioError,
        JobContext,
        JobFailed,
        decode,
        decode_all,
        decode_pcm,
        probe_audio,
        wer,
    )


def __getattr__(name: str) -> Any:
    # job_api's heavy names (the audio decoder, Huey's job types) load on first use.
    if name in job_api.LAZY:
        return getattr(job_api, name)
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
    "AudioError",
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
    "Paths",
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
    "decode",
    "decode_all",
    "decode_pcm",
    "events",
    "expand_dotted",
    "file_lock",
    "fsync_folder",
    "load_settings_file",
    "neutral_cwd",
    "pid_alive",
    "probe_audio",
    "probe_folder",
    "python_command",
    "redact_url",
    "replace_durably",
    "section_of",
    "setting",
    "shorten",
    "to_wire",
    "update_file",
    "wer",
    "wire_form",
    "workspace_edit",
]
