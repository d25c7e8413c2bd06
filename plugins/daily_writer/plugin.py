"""The ``daily_writer`` plugin: where daily notes live.

Provides ``notes.daily``, a small object other plugins ask for the note of a date.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from butler_ls.errors import ButlerError
from butler_ls.plugin_api import Plugin, PluginContext


class DailyNotes:
    """The ``notes.daily`` capability: note locations from the ``notes.*`` settings."""

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx

    def directory(self) -> Path:
        """The notes folder: ``notes.directory``, else ``notes/daily`` in the workspace or home."""
        configured = self._ctx.settings.notes.directory
        if configured:
            return Path(configured).expanduser()
        root = self._ctx.server.workspace_root() or Path.home()
        return root / "notes" / "daily"

    def path_for(self, date: dt.date) -> Path:
        """The file of the note of ``date``; refuses a format that leaves the folder."""
        folder = self.directory().resolve()
        relative = date.strftime(self._ctx.settings.notes.filename_format)
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder) or path == folder:
            raise ButlerError(
                f"notes.filenameFormat {self._ctx.settings.notes.filename_format!r} gives "
                f"{relative!r}, which is outside the notes folder {folder}; use a relative "
                f"pattern such as %Y-%m-%d.md"
            )
        return path


class DailyWriterPlugin(Plugin):
    """Registers the ``notes.daily`` capability."""

    def activate(self, ctx: PluginContext) -> None:
        """Offer ``notes.daily``."""
        ctx.provide("notes.daily", DailyNotes(ctx))
