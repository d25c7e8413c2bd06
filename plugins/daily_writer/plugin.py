"""The ``daily_writer`` plugin: open today's note, append typed or spoken entries.

Provides ``notes.daily`` (note locations and appends for other plugins) and the
``butler.note.open`` / ``butler.note.append`` commands, plus ``[[`` link completion.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import attrs
from lsprotocol import types

from butler_ls.plugin_api import ButlerError, Plugin, PluginContext, atomic_write, file_lock

from .dates import parse_date
from .entries import DEFAULT_SECTION, check_section, format_entry
from .journal import Journal
from .links import link_completions
from .settings import NotesSettings
from .template import DEFAULT_TEMPLATE, date_of, find_previous, note_name, render, unfinished_tasks
from .writer import NoteWriter

logger = logging.getLogger(__name__)

MAX_SCAN = 20000  # files looked at when searching the notes folder


@attrs.frozen
class OpenArguments:
    """Argument of ``butler.note.open``."""

    date: str | None = None
    """today (default), yesterday, tomorrow, YYYY-MM-DD, -N/+N, or a weekday name."""


@attrs.frozen
class AppendArguments:
    """Argument of ``butler.note.append``."""

    text: str
    """The entry; it is timestamped and added under the section heading."""

    date: str | None = None
    """Which day's note (as for ``butler.note.open``); default today."""

    section: str | None = None
    """Heading to add under (default ``Log``); created at the end if missing."""


class DailyNotes:
    """The ``notes.daily`` capability: where notes live, and appending to them."""

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx
        self.writer: NoteWriter | None = None
        self._template_problem: str | None = None
        self._template_reported: set[str] = set()

    def _notes(self) -> NotesSettings:
        return self._ctx.settings.get(NotesSettings)

    def _base(self) -> Path:
        return self._ctx.workspace_root() or Path.home()

    def directory(self) -> Path:
        """The notes folder: ``notes.directory`` (relative to the workspace), else notes/daily."""
        configured = self._notes().directory
        if configured:
            path = Path(configured).expanduser()
            return path if path.is_absolute() else self._base() / path
        return self._base() / "notes" / "daily"

    def relative_name(self, date: dt.date) -> str:
        """The note's path inside the folder, from ``notes.filenameFormat``."""
        pattern = self._notes().filename_format
        try:
            return date.strftime(pattern)
        except ValueError as exc:
            raise ButlerError(f"notes.filenameFormat {pattern!r} is not usable: {exc}") from None

    def path_for(self, date: dt.date) -> Path:
        """The file of the note of ``date``; refuses a format that leaves the folder."""
        folder = self.directory().resolve()
        relative = self.relative_name(date)
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder) or path == folder:
            raise ButlerError(
                f"notes.filenameFormat {self._notes().filename_format!r} gives "
                f"{relative!r}, which is outside the notes folder {folder}; use a relative "
                f"pattern such as %Y-%m-%d.md"
            )
        return path

    def note_files(self) -> list[str]:
        """Relative paths of the notes in the folder that match ``notes.filenameFormat``."""
        folder = self.directory()
        pattern = self._notes().filename_format
        found = []
        for index, path in enumerate(folder.rglob("*") if folder.is_dir() else []):
            if index >= MAX_SCAN:
                break
            relative = path.relative_to(folder).as_posix()
            if path.is_file() and date_of(relative, pattern) is not None:
                found.append(relative)
        return sorted(found)

    def read_template(self) -> str:
        """The text of ``notes.template`` (relative to the workspace), or the default.

        Raises ButlerError, naming the file and the fix, when the configured file cannot be
        read; the doctor rates that, while notes go on with the built-in template.
        """
        configured = self._notes().template
        if not configured:
            return DEFAULT_TEMPLATE
        path = Path(configured).expanduser()
        path = path if path.is_absolute() else self._base() / path
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            problem = f"{path} does not exist"
        except OSError as exc:
            problem = f"cannot read {path} ({exc.strerror or exc})"
        except UnicodeDecodeError as exc:
            problem = f"cannot read {path} (not UTF-8: {exc.reason})"
        raise ButlerError(f"notes.template: {problem}; create it or remove notes.template")

    def template_text(self) -> str:
        """The text new notes start from: ``notes.template``'s, else the built-in template.

        A template that cannot be read must not stop every note, so the note is made from
        the built-in one and the user is told once (see ``report_template_problem``).
        """
        try:
            return self.read_template()
        except ButlerError as exc:
            problem = str(exc).split("; ", 1)[0]
            message = (
                f"Butler: {problem}, so new notes start from the built-in template; "
                f"create it or remove notes.template"
            )
            # Logged at warning (which reaches the editor's log) only until it was shown.
            level = logging.DEBUG if message in self._template_reported else logging.WARNING
            logger.log(level, "%s; using the built-in template", problem)
            self._template_problem = message
            return DEFAULT_TEMPLATE

    def report_template_problem(self) -> None:
        """Tell the user, once per server run and file, that notes.template was not used.

        Called on the event loop after note work, which runs in threads: the message goes
        out over the LSP pipe, which only the loop writes to.
        """
        message, self._template_problem = self._template_problem, None
        if message and message not in self._template_reported:
            self._template_reported.add(message)
            self._ctx.show_warning(message)

    def new_note_text(self, path: Path) -> str:
        """The first text of the note at ``path``, from the template."""
        folder = self.directory()
        pattern = self._notes().filename_format
        relative = path.relative_to(folder.resolve()).as_posix()
        date = date_of(relative, pattern) or dt.date.today()
        template = self.template_text()
        previous = find_previous(self.note_files(), pattern, date)
        tasks: list[str] = []
        if previous and "tasks" in template:
            try:
                tasks = unfinished_tasks((folder / previous).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                logger.warning("cannot read the previous note %s for its tasks", previous)
        return render(
            template,
            date=date,
            previous=note_name(previous) if previous else None,
            next_name=note_name(self.relative_name(date + dt.timedelta(days=1))),
            tasks=tasks,
        )

    def ensure_note(self, date: dt.date) -> tuple[Path, bool]:
        """Create the note of ``date`` from the template if missing; (path, created)."""
        path = self.path_for(date)
        if path.exists():
            return path, False
        with file_lock(path):
            if path.exists():
                return path, False
            atomic_write(path, self.new_note_text(path))
        return path, True

    async def append(
        self, text: str, *, date: dt.date | None = None, section: str | None = None
    ) -> Path:
        """Add a timestamped entry to the note of ``date`` (default today); for other plugins."""
        assert self.writer is not None, "daily_writer is not active"
        now = dt.datetime.now()
        entry = format_entry(self._notes().entry_format, text, now)
        path = self.path_for(date or now.date())
        try:
            await self.writer.append(path, check_section(section), entry)
        finally:
            self.report_template_problem()
        return path


class DailyWriterPlugin(Plugin):
    """Registers the note commands, the ``notes.daily`` capability and link completion."""

    def activate(self, ctx: PluginContext) -> None:
        """Set up the journal and the writer, and recover unwritten entries."""
        self.ctx = ctx
        self.notes = DailyNotes(ctx)
        self.journal = Journal(ctx.data_dir / "journal")
        self.writer = NoteWriter(ctx, self.journal, self.notes.new_note_text, ctx.run_task)
        self.notes.writer = self.writer
        ctx.provide("notes.daily", self.notes)
        ctx.provide("status.notes", self.status)
        ctx.command("butler.note.open", self.open_note, arguments=OpenArguments)
        ctx.command("butler.note.append", self.append_note, arguments=AppendArguments)
        ctx.completion(self.complete, trigger_characters=["["])
        recovered = self.writer.recover()
        if recovered:
            ctx.show_warning(
                f"Butler found {recovered} note entries that an earlier session could not "
                f"write; they are being added to their notes now"
            )

    async def deactivate(self) -> None:
        """Finish the writes in flight, then release the journal."""
        await self.writer.drain()
        self.journal.close()

    def status(self) -> dict[str, object]:
        """The notes part of ``butler.status``."""
        return {
            "directory": str(self.notes.directory()),
            "pendingEntries": self.writer.pending(),
            "writes": self.writer.writes,
        }

    async def open_note(self, args: OpenArguments) -> dict[str, object]:
        """``butler.note.open``: create the note if needed and show it in the editor."""
        date = parse_date(args.date, dt.date.today())
        try:
            path, created = await asyncio.to_thread(self.notes.ensure_note, date)
        finally:
            self.notes.report_template_problem()
        uri = path.as_uri()
        # The note exists; showing it is a courtesy (a failure is only logged).
        await self.ctx.show_document(uri)
        return {"uri": uri, "path": str(path), "created": created, "date": date.isoformat()}

    async def append_note(self, args: AppendArguments) -> dict[str, object]:
        """``butler.note.append``: answers once the entry is in the note."""
        date = parse_date(args.date, dt.date.today())
        section = check_section(args.section)
        now = dt.datetime.now()
        entry = format_entry(self.ctx.settings.get(NotesSettings).entry_format, args.text, now)
        path = self.notes.path_for(date)
        try:
            where = await self.writer.append(path, section, entry)
        finally:
            self.notes.report_template_problem()
        return {"uri": path.as_uri(), "path": str(path), "writtenTo": where}

    async def complete(self, params: types.CompletionParams) -> list[types.CompletionItem]:
        """``[[`` in any document offers the daily notes, newest first."""
        document = self.ctx.document(params.text_document.uri)
        if document is None:
            return []
        offset = document.offset_at_position(params.position)
        names = await asyncio.to_thread(self.notes.note_files)
        return link_completions(document, offset, [note_name(n) for n in names])


__all__ = ["DEFAULT_SECTION", "DailyWriterPlugin"]
