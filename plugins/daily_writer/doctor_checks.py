"""daily_writer's ``butler-ls doctor`` check: the notes folder takes new notes, and the
template and file name pattern are usable, judged by the plugin's own rules (DailyNotes).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from butler_ls.plugin_api import ButlerError, Check, DoctorContext, Settings, probe_folder

from .plugin import DailyNotes
from .settings import NotesSettings

TEMPLATE_FIX = (
    "create the template file, fix the path of notes.template (a relative path starts at "
    "the workspace folder), or remove the setting to use the built-in template"
)


class _Workspace:
    """What DailyNotes reads of its plugin context, for one workspace folder (or home)."""

    def __init__(self, notes: NotesSettings, workspace: Path | None) -> None:
        self.settings = Settings(sections={"notes": notes})
        self._workspace = workspace

    def workspace_root(self) -> Path | None:
        return self._workspace


def notes_for(notes: NotesSettings, workspace: Path | None) -> DailyNotes:
    """daily_writer's notes rules for these settings and this workspace folder (or home)."""
    return DailyNotes(_Workspace(notes, workspace))  # type: ignore[arg-type]


def notes_directory(notes: NotesSettings, workspace: Path | None) -> Path:
    """``notes.directory`` as daily_writer resolves it for this workspace (or home)."""
    return notes_for(notes, workspace).directory()


def check_notes(notes: NotesSettings, workspace: Path | None) -> Check:
    """The notes folder takes new notes; the template and file name pattern are usable."""
    daily = notes_for(notes, workspace)
    folder = daily.directory()
    exists, problem = probe_folder(folder)
    data = {"directory": str(folder), "exists": exists}
    if problem:
        return Check(
            "notes",
            "fail",
            f"notes folder {folder}: {problem}",
            f"make {folder} a folder you can write, or set notes.directory to one",
            data,
        )
    state = "writable" if exists else "does not exist yet; the first note creates it"
    detail = f"notes folder {folder}: {state}"
    try:
        daily.read_template()
    except ButlerError as exc:
        # Notes still get made (from the built-in template), but not the way the user set
        # them up, and the server says so only once: the doctor rates it a failure.
        problem = str(exc).split("; ", 1)[0]
        detail = f"{problem}; new notes start from the built-in template until it is fixed"
        return Check("notes", "fail", detail, TEMPLATE_FIX, data)
    try:
        daily.path_for(dt.date.today())
    except ButlerError as exc:
        fix = "use a relative pattern such as %Y-%m-%d.md (subfolders are fine: %Y/%m-%d.md)"
        detail = str(exc).split("; use ", 1)[0]
        return Check("notes", "warn", detail, fix, data)
    return Check("notes", "ok", detail, data=data)


def checks(ctx: DoctorContext) -> list[Check]:
    """daily_writer's doctor checks (``doctor:`` in plugin.yaml)."""
    return [check_notes(ctx.settings.get(NotesSettings), ctx.workspace)]
