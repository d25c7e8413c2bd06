"""``notes.*``: where daily notes live and how entries look (this plugin's settings)."""

from __future__ import annotations

import attrs


@attrs.frozen
class NotesSettings:
    """``notes.*``: where daily notes live and how entries look."""

    directory: str | None = None
    """Notes folder; default ``notes/daily`` under the first workspace folder, else home."""

    filename_format: str = "%Y-%m-%d.md"
    """strftime pattern of a note's path inside the folder; subfolders allowed."""

    template: str | None = None
    """Path of a template file for new notes (placeholders are described in the docs)."""

    entry_format: str = "- {time:%H:%M} {text}"
    """Format of an appended entry; ``{time}`` is a datetime, ``{text}`` the entry."""
