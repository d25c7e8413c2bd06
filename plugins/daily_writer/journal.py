"""A small write-ahead journal of note entries, so none is lost to a crash or a bad folder.

Each server process keeps its own journal file, locked while it runs; a journal whose
lock is free belongs to a process that is gone, and its unfinished entries are replayed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path

import attrs
import filelock

logger = logging.getLogger(__name__)


@attrs.frozen
class PendingEntry:
    """One entry on its way into a note."""

    path: str
    """The note file."""

    section: str
    """Heading the entry goes under."""

    text: str
    """The formatted entry (one list item, maybe with continuation lines)."""

    id: str = attrs.field(factory=lambda: uuid.uuid4().hex)
    """Identifies the entry in the journal."""


UNWRITABLE_NAME = "unwritable.jsonl"
"""Where entries that no file can ever hold are set aside (kept, never retried)."""


def unwritable_reason(entry: PendingEntry) -> str | None:
    """Why ``entry`` can never be written to any note (None if it can be)."""
    for name in ("path", "section", "text"):
        try:
            getattr(entry, name).encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"its {name} holds a lone surrogate at {exc.start}, which is not UTF-8 text"
        if "\0" in getattr(entry, name):
            return f"its {name} holds a NUL character"
    if len(os.fsencode(entry.path)) > 4096 or any(
        len(part) > 255 for part in os.fsencode(entry.path).split(b"/")
    ):
        return "its note's path is longer than a file system allows"
    return None


class Journal:
    """The journal of this process: entries are recorded before the note is written."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = folder / f"journal-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._lock = filelock.FileLock(str(self.path) + ".lock", thread_local=False)
        self._lock.acquire()
        self._mutex = threading.Lock()
        self._open: dict[str, PendingEntry] = {}

    def record(self, entries: Iterable[PendingEntry]) -> None:
        """Make entries durable (one write and one fsync for the whole batch)."""
        entries = [e for e in entries if e.id not in self._open]
        if not entries:
            return
        lines = "".join(json.dumps(attrs.asdict(e)) + "\n" for e in entries)
        with self._mutex:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, lines.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            for entry in entries:
                self._open[entry.id] = entry

    def done(self, entries: Iterable[PendingEntry]) -> None:
        """Mark entries written; the journal empties itself once nothing is open."""
        with self._mutex:
            for entry in entries:
                self._open.pop(entry.id, None)
            if not self._open:
                # Nothing open: start afresh rather than grow forever.
                with open(self.path, "w", encoding="utf-8"):
                    pass
                return
            # No fsync: losing a "done" mark only means a replay, which skips
            # entries already in the note.
            with open(self.path, "a", encoding="utf-8") as handle:
                for entry in entries:
                    handle.write(json.dumps({"done": entry.id}) + "\n")

    def set_aside(self, entries: Iterable[PendingEntry], reason: str) -> Path:
        """Move entries that can never be written out of the journal, into a private file
        of their own (nothing is lost, nothing is retried); returns that file."""
        entries = list(entries)
        target = self.folder / UNWRITABLE_NAME
        lines = "".join(json.dumps({**attrs.asdict(e), "reason": reason}) + "\n" for e in entries)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, lines.encode("utf-8"))  # json.dumps escapes surrogates: ASCII
            os.fsync(fd)
        finally:
            os.close(fd)
        self.done(entries)
        return target

    def open_entries(self) -> list[PendingEntry]:
        """Entries recorded and not yet written, oldest first."""
        with self._mutex:
            return list(self._open.values())

    def adopt_orphans(self) -> list[PendingEntry]:
        """Take over the unfinished entries of journals whose process is gone."""
        adopted: list[PendingEntry] = []
        for other in sorted(self.folder.glob("journal-*.jsonl")):
            if other == self.path:
                continue
            lock = filelock.FileLock(str(other) + ".lock", thread_local=False)
            try:
                lock.acquire(timeout=0)
            except filelock.Timeout:
                continue  # its server is still running
            try:
                entries = read_open_entries(other)
                self.record(entries)
                adopted.extend(entries)
                other.unlink(missing_ok=True)
            finally:
                lock.release()
                Path(str(other) + ".lock").unlink(missing_ok=True)
        if adopted:
            logger.info("recovered %d unwritten note entries from an earlier session", len(adopted))
        return adopted

    def close(self) -> None:
        """Release the journal; an empty one is removed."""
        with self._mutex:
            empty = not self._open
        if empty:
            self.path.unlink(missing_ok=True)
        self._lock.release()
        if empty:
            Path(str(self.path) + ".lock").unlink(missing_ok=True)


def read_open_entries(path: Path) -> list[PendingEntry]:
    """Parse a journal file; a torn last line (crash mid-write) is skipped."""
    entries: dict[str, PendingEntry] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        if "done" in data:
            entries.pop(str(data["done"]), None)
            continue
        try:
            entry = PendingEntry(
                path=str(data["path"]),
                section=str(data["section"]),
                text=str(data["text"]),
                id=str(data["id"]),
            )
        except KeyError:
            continue
        entries[entry.id] = entry
    return list(entries.values())
