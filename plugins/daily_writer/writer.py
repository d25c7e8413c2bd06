"""Writes entries into notes: by ``workspace/applyEdit`` when the note is open, else hands
them to the Butler server whose editor has it open (handoff.py), else on disk.

Entries for one note are coalesced: while one write is in flight, the next ones queue up
and go in together. Every entry is journaled first and marked done once it is in.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock
from lsprotocol import types

from butler_ls.plugin_api import (
    ButlerError,
    EditRefused,
    InvalidArguments,
    PluginContext,
    client_position,
    events,
    update_file,
)

from .entries import apply_insertion, contains_entries, plan_insert
from .handoff import Handoff
from .journal import Journal, PendingEntry, unwritable_reason

if TYPE_CHECKING:
    from pygls.workspace import TextDocument

logger = logging.getLogger(__name__)

RETRY_DELAYS = (2.0, 5.0, 15.0, 30.0, 60.0)


class JournalError(ButlerError):
    """The journal itself could not be written: the entry is not safe anywhere."""


class NoteWriter:
    """Appends entries to notes, one coalescing queue per note file."""

    def __init__(
        self,
        ctx: PluginContext,
        journal: Journal,
        new_note: Callable[[Path], str],
        spawn: Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]],
        *,
        handoff_folder: Path | None = None,
    ) -> None:
        self.ctx = ctx
        self.journal = journal
        self._new_note = new_note
        self._spawn = spawn  # ctx.run_task: the server owns the flush and retry tasks
        self._queues: dict[Path, list[tuple[PendingEntry, asyncio.Future[str] | None]]] = {}
        self._flushers: dict[Path, asyncio.Task[None]] = {}
        self._replayed: set[str] = set()
        self._handed_in: set[str] = set()  # from another server: never handed on again
        self._retry: asyncio.Task[None] | None = None
        self.failures = 0
        self.writes = 0
        self.handoff = self._start_handoff(handoff_folder)

    async def append(self, path: Path, section: str, text: str) -> str:
        """Queue one entry and wait until it is in the note; returns ``editor`` or ``disk``.

        An entry no file can ever hold is refused here, never journaled to wait forever.
        """
        entry = PendingEntry(path=str(path), section=section, text=text)
        if (reason := unwritable_reason(entry)) is not None:
            raise InvalidArguments(f"this entry can never be written: {reason}")
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._enqueue(entry, future)
        return await future

    def recover(self) -> int:
        """Queue the unwritten entries of earlier sessions (and our own failed ones)."""
        entries = []
        for entry in self.journal.adopt_orphans():
            if (reason := unwritable_reason(entry)) is None:
                entries.append(entry)
                continue
            # Left by an older version that journaled it: set aside once, never retried.
            kept = self.journal.set_aside([entry], reason)
            logger.warning("a note entry can never be written (%s); it is kept in %s", reason, kept)
            self.ctx.show_warning(
                f"Butler: a note entry from an earlier session can never be written ({reason}); "
                f"its text is kept in {kept}"
            )
        self._replayed.update(e.id for e in entries)
        for entry in entries:
            self._enqueue(entry, None)
        return len(entries)

    async def drain(self) -> None:
        """Wait for the writes in flight (on shutdown)."""
        if self.handoff is not None:
            # First, so the entries other servers handed us are in and answered.
            await self.handoff.close()
        if self._retry is not None:
            self._retry.cancel()
        while self._flushers:
            await asyncio.gather(*self._flushers.values(), return_exceptions=True)

    def pending(self) -> int:
        """Entries recorded in the journal and not yet in their note."""
        return len(self.journal.open_entries())

    # -- handing entries to the server whose editor has the note open -----------------

    def _start_handoff(self, folder: Path | None) -> Handoff | None:
        if folder is None:
            if not isinstance(self.ctx, PluginContext):
                return None  # a bare test double: no data folder, no document signals
            folder = self.ctx.data_dir / "handoff"
        try:
            handoff = Handoff(folder, self._spawn, self._receive)
        except (OSError, filelock.Timeout) as exc:
            # Without it, notes are still written, as before: on disk.
            logger.warning("cannot share open notes with other Butler servers: %s", exc)
            return None
        self.ctx.connect(events.document_opened, self._documents_changed)
        self.ctx.connect(events.document_closed, self._documents_changed)
        return handoff

    def _documents_changed(self, sender: object, **kwargs: object) -> None:
        assert self.handoff is not None
        paths = []
        for uri in self.ctx.open_uris():
            document = self.ctx.document(uri)
            if uri.startswith("file:") and document is not None and document.path:
                paths.append(document.path)
        self.handoff.set_open(paths)

    async def _hand_off(self, path: Path, entries: list[PendingEntry]) -> str | None:
        """Give the entries to the live server whose editor has the note open, rather
        than write the file under that editor's buffer; None: write them here."""
        if self.handoff is None or any(e.id in self._handed_in for e in entries):
            return None
        offered = await self.handoff.offer(path, entries, self._replayed)
        if offered.where is None and offered.unheard:
            # Its buffer may be unsaved: saving it over the file would drop the entry.
            self.ctx.show_warning(
                f"Butler: another editor had {path.name} open, but its Butler server did "
                f"not take the entry, so it was written to the file; if that editor asks "
                f"whether to save over the changed file, say no and reload it"
            )
        return offered.where

    async def _receive(self, entries: list[PendingEntry], replayed: set[str]) -> str | None:
        """Put entries another server handed us into our client's buffer of the note, by
        our own queue (so they coalesce and are journaled here too); None: not open here."""
        if self.ctx.document_for_path(Path(entries[0].path)) is None:
            return None  # closed meanwhile: the sender writes the file, quickly
        ids = {e.id for e in entries}
        self._handed_in.update(ids)
        self._replayed.update(replayed & ids)
        loop = asyncio.get_running_loop()
        futures = []
        for entry in entries:
            futures.append(loop.create_future())
            self._enqueue(entry, futures[-1])
        try:
            results = await asyncio.gather(*futures)
        except Exception:
            # The sender writes them when told "failed": forget them here, or they would
            # be written twice by our retries.
            await asyncio.to_thread(self.journal.done, entries)
            raise
        finally:
            self._handed_in.difference_update(ids)
        return "editor" if all(r == "editor" for r in results) else "disk"

    # -- internals ---------------------------------------------------------------

    def _enqueue(self, entry: PendingEntry, future: asyncio.Future[str] | None) -> None:
        path = Path(entry.path)
        self._queues.setdefault(path, []).append((entry, future))
        if path not in self._flushers:
            self._flushers[path] = self._spawn(self._flush(path), f"note {path}")

    async def _flush(self, path: Path) -> None:
        try:
            while batch := self._queues.pop(path, None):
                entries = [entry for entry, _ in batch]
                try:
                    where = await self._write(path, entries)
                except Exception as exc:
                    self.failures += 1
                    if not isinstance(exc, ButlerError):
                        logger.exception("writing %d entries to %s failed", len(entries), path)
                    if isinstance(exc, JournalError):
                        for _, future in batch:
                            if future is not None and not future.done():
                                future.set_exception(exc)
                        continue
                    error = exc if isinstance(exc, ButlerError) else ButlerError(str(exc))
                    kept = ButlerError(
                        f"{error}. The entry is kept in Butler's journal and will be written "
                        f"as soon as that works (Butler retries, and on its next start)"
                    )
                    for _, future in batch:
                        if future is not None and not future.done():
                            future.set_exception(kept)
                    self._schedule_retry()
                    continue
                for _, future in batch:
                    if future is not None and not future.done():
                        future.set_result(where)
        finally:
            self._flushers.pop(path, None)

    async def _write(self, path: Path, entries: list[PendingEntry]) -> str:
        try:
            await asyncio.to_thread(self.journal.record, entries)
        except OSError as exc:
            raise JournalError(
                f"cannot record the entry in Butler's journal at {self.journal.path} "
                f"({exc.strerror or exc}), so it was not written; free space in Butler's "
                f"data folder or make it writable, then append again"
            ) from None
        if self.ctx.document_for_path(path) is not None and await self._write_to_editor(
            path, entries
        ):
            where = "editor"
        elif (handed := await self._hand_off(path, entries)) is not None:
            where = handed
        else:
            await asyncio.to_thread(self._write_to_disk, path, entries)
            where = "disk"
        self.writes += 1
        await asyncio.to_thread(self.journal.done, entries)
        self._replayed.difference_update(e.id for e in entries)
        return where

    def _write_to_disk(self, path: Path, entries: list[PendingEntry]) -> None:
        def transform(old: str | None) -> str:
            note = old if old is not None else self._new_note(path)
            for section, group in _by_section(entries):
                texts = [e.text for e in group if not self._already_in(note, e)]
                if texts:
                    note = apply_insertion(note, plan_insert(note, section, texts))
            return note

        update_file(path, transform)

    def _already_in(self, note: str, entry: PendingEntry) -> bool:
        # Only replayed entries may already be there (written, then the crash came
        # before the journal said so); a user may append the same words twice on purpose.
        return entry.id in self._replayed and contains_entries(note, entry.section, [entry.text])

    async def _write_to_editor(self, path: Path, entries: list[PendingEntry]) -> bool:
        """Insert by applyEdit, section by section; False if the note was closed meanwhile."""
        for section, group in _by_section(entries):
            if not await self._edit_section(path, section, group):
                return False
        return True

    async def _edit_section(self, path: Path, section: str, entries: list[PendingEntry]) -> bool:
        document = self.ctx.document_for_path(path)
        if document is None:
            return False

        def plan(document: TextDocument) -> types.TextEdit | None:
            # Planned afresh at each attempt: the user may have typed since the last one.
            texts = [e.text for e in entries if not self._already_in(document.source, e)]
            if not texts:
                return None
            insertion = plan_insert(document.source, section, texts)
            position = client_position(document, insertion.offset)
            return types.TextEdit(range=types.Range(position, position), new_text=insertion.text)

        try:
            return await self.ctx.apply_edit(document.uri, plan, label="Butler: add to daily note")
        except EditRefused as exc:
            raise ButlerError(
                f"the editor refused to add the entry to {path} {exc.attempts} times; "
                f"save or close the note and try again"
            ) from None

    def _schedule_retry(self) -> None:
        if self._retry is None or self._retry.done():
            self._retry = self._spawn(self._retry_loop(), "retry unwritten entries")

    async def _retry_loop(self) -> None:
        for delay in itertools.chain(RETRY_DELAYS, itertools.repeat(RETRY_DELAYS[-1])):
            await asyncio.sleep(delay)
            queued = {entry.id for batch in self._queues.values() for entry, _ in batch}
            stuck = [e for e in self.journal.open_entries() if e.id not in queued]
            if not stuck:
                return
            logger.info("retrying %d unwritten note entries", len(stuck))
            for entry in stuck:
                self._enqueue(entry, None)
            await asyncio.gather(*self._flushers.values(), return_exceptions=True)
            if not self.journal.open_entries():
                return


def _by_section(entries: list[PendingEntry]) -> list[tuple[str, list[PendingEntry]]]:
    """Group entries by section, keeping their order."""
    groups: dict[str, list[PendingEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.section, []).append(entry)
    return list(groups.items())
