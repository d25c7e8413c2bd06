"""daily_writer's journal and writer in-process: crash replay, full disk, retries."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest

from butler_ls.util.errors import ButlerError, InvalidArguments
from butler_ls.util.tasks import TaskRunner
from tests.helpers import load_plugin_module

journal_mod = load_plugin_module("daily_writer", "journal")
writer_mod = load_plugin_module("daily_writer", "writer")
Journal, PendingEntry = journal_mod.Journal, journal_mod.PendingEntry


class NoEditor:
    """A server with no open documents: every write goes to disk."""

    def document_for_path(self, path: Path) -> None:
        return None


def test_journal_keeps_open_entries_until_done(tmp_path: Path):
    journal = Journal(tmp_path / "j")
    a, b = PendingEntry("/n.md", "Log", "- a"), PendingEntry("/n.md", "Log", "- b")
    journal.record([a, b])
    assert (journal.path.stat().st_mode & 0o777) == 0o600  # entries are private text
    assert journal.open_entries() == [a, b]
    assert journal_mod.read_open_entries(journal.path) == [a, b]
    journal.done([a])
    assert journal_mod.read_open_entries(journal.path) == [b]
    journal.done([b])
    assert journal.path.read_text() == ""  # emptied once nothing is open
    journal.close()
    assert not journal.path.exists()


def test_orphaned_journals_are_adopted_but_live_ones_are_not(tmp_path: Path):
    folder = tmp_path / "j"
    live = Journal(folder)
    live.record([PendingEntry("/n.md", "Log", "- live")])
    dead_path = folder / "journal-999999-deadbeef.jsonl"
    entry = PendingEntry("/n.md", "Log", "- lost in a crash")
    done = PendingEntry("/n.md", "Log", "- already written")
    dead_path.write_text(
        journal_mod.json.dumps(journal_mod.attrs.asdict(entry))
        + "\n"
        + journal_mod.json.dumps(journal_mod.attrs.asdict(done))
        + "\n"
        + journal_mod.json.dumps({"done": done.id})
        + "\n"
        + '{"path": "/n.md", "sect'  # torn by the crash
    )
    newcomer = Journal(folder)
    adopted = newcomer.adopt_orphans()
    assert adopted == [entry]
    assert not dead_path.exists()
    assert live.path.exists()  # its server still holds the lock
    assert [e.text for e in live.open_entries()] == ["- live"]
    newcomer.close()
    live.close()


def run(coro):
    return asyncio.run(coro)


def test_full_disk_keeps_the_old_note_and_the_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    note = tmp_path / "notes" / "2026-01-05.md"
    note.parent.mkdir()
    note.write_text("# Day\n\n## Log\n- 09:00 before\n")
    journal = Journal(tmp_path / "j")
    writer = writer_mod.NoteWriter(NoEditor(), journal, lambda path: "# new\n", TaskRunner().spawn)
    real_replace = os.replace

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    monkeypatch.setattr(writer_mod, "RETRY_DELAYS", (0.05,))

    async def scenario() -> None:
        with pytest.raises(ButlerError) as caught:
            await writer.append(note, "Log", "- 09:05 after")
        message = str(caught.value)
        assert "disk" in message and str(note) in message
        assert "kept in Butler's journal" in message
        assert note.read_text() == "# Day\n\n## Log\n- 09:00 before\n"
        assert not [p for p in note.parent.iterdir() if p.name.endswith(".tmp")]
        assert writer.pending() == 1
        monkeypatch.setattr(os, "replace", real_replace)  # space is free again
        for _ in range(100):
            if writer.pending() == 0:
                break
            await asyncio.sleep(0.02)
        await writer.drain()

    run(scenario())
    assert note.read_text() == "# Day\n\n## Log\n- 09:00 before\n- 09:05 after\n"
    journal.close()


def test_replayed_entries_are_not_written_twice(tmp_path: Path):
    note = tmp_path / "n.md"
    note.write_text("## Log\n- 10:00 already there\n")
    folder = tmp_path / "j"
    dead = folder / "journal-999998-cafe0000.jsonl"
    folder.mkdir()
    lines = [PendingEntry(str(note), "Log", t) for t in ("- 10:00 already there", "- 10:01 new")]
    dead.write_text(
        "".join(journal_mod.json.dumps(journal_mod.attrs.asdict(e)) + "\n" for e in lines)
    )
    journal = Journal(folder)
    writer = writer_mod.NoteWriter(NoEditor(), journal, lambda path: "", TaskRunner().spawn)

    async def scenario() -> None:
        assert writer.recover() == 2
        await writer.drain()

    run(scenario())
    assert note.read_text() == "## Log\n- 10:00 already there\n- 10:01 new\n"
    journal.close()


def test_entries_arriving_together_share_one_write(tmp_path: Path):
    note = tmp_path / "n.md"
    journal = Journal(tmp_path / "j")
    writer = writer_mod.NoteWriter(NoEditor(), journal, lambda path: "## Log\n", TaskRunner().spawn)

    async def scenario() -> None:
        await asyncio.gather(*(writer.append(note, "Log", f"- {i}") for i in range(50)))

    run(scenario())
    assert note.read_text() == "## Log\n" + "".join(f"- {i}\n" for i in range(50))
    assert writer.writes < 50  # coalesced
    journal.close()


def test_a_journal_that_cannot_be_written_says_the_entry_was_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    journal = Journal(tmp_path / "j")
    writer = writer_mod.NoteWriter(NoEditor(), journal, lambda path: "", TaskRunner().spawn)

    def full(entries):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal, "record", full)

    async def scenario() -> None:
        with pytest.raises(ButlerError) as caught:
            await writer.append(tmp_path / "n.md", "Log", "- x")
        assert "was not written" in str(caught.value)
        assert "kept" not in str(caught.value)

    run(scenario())
    assert not (tmp_path / "n.md").exists()
    journal.close()


class Warned(NoEditor):
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def show_warning(self, message: str) -> None:
        self.warnings.append(message)


def test_an_entry_no_file_can_hold_is_refused_up_front(tmp_path: Path):
    journal = Journal(tmp_path / "j")
    writer = writer_mod.NoteWriter(NoEditor(), journal, lambda path: "", TaskRunner().spawn)

    async def scenario() -> None:
        with pytest.raises(InvalidArguments, match="lone surrogate"):
            await writer.append(tmp_path / "n.md", "Log", "- \ud800")

    run(scenario())
    assert journal.open_entries() == []
    assert not (tmp_path / "n.md").exists()
    journal.close()


def test_unwritable_entries_of_an_old_journal_are_set_aside_not_retried(tmp_path: Path):
    note = tmp_path / "n.md"
    folder = tmp_path / "j"
    folder.mkdir()
    good = PendingEntry(str(note), "Log", "- 10:01 fine")
    bad = PendingEntry(str(note), "Log", "- 10:02 \ud800 broken")
    (folder / "journal-999997-0badf00d.jsonl").write_text(
        "".join(journal_mod.json.dumps(journal_mod.attrs.asdict(e)) + "\n" for e in (good, bad))
    )
    server = Warned()
    journal = Journal(folder)
    writer = writer_mod.NoteWriter(server, journal, lambda path: "", TaskRunner().spawn)

    async def scenario() -> None:
        assert writer.recover() == 1
        await writer.drain()

    run(scenario())
    assert note.read_text() == "## Log\n- 10:01 fine\n"
    assert journal.open_entries() == []  # nothing left to retry, now or at the next start
    kept = folder / journal_mod.UNWRITABLE_NAME
    assert (kept.stat().st_mode & 0o777) == 0o600
    assert journal_mod.json.loads(kept.read_text())["text"] == bad.text  # nothing lost
    assert len(server.warnings) == 1 and str(kept) in server.warnings[0]
    journal.close()
    later = Journal(folder)
    assert later.adopt_orphans() == []
    later.close()
