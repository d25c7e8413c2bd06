"""daily_writer's handoff between two servers in one process: liveness, offer and claim,
withdrawal, the in-doubt fallback and file modes."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from pathlib import Path

import pytest

from butler_ls.util.tasks import TaskRunner
from tests.helpers import load_plugin_module

handoff_mod = load_plugin_module("daily_writer", "handoff")
journal_mod = load_plugin_module("daily_writer", "journal")
Handoff, PendingEntry = handoff_mod.Handoff, journal_mod.PendingEntry


class Holder:
    """What a server's writer does with handed-in entries, recorded for the test."""

    def __init__(self, where: str | None = "editor", hang: bool = False) -> None:
        self.where = where
        self.hang = hang
        self.received: list[tuple[list, set]] = []

    async def receive(self, entries: list, replayed: set) -> str | None:
        self.received.append((entries, replayed))
        if self.hang:
            await asyncio.Event().wait()
        return self.where


def refuse(entries: list, replayed: set) -> None:
    raise AssertionError("the sender must not be handed anything")


def server(folder: Path, receive=refuse, **waits: float):
    return Handoff(folder, TaskRunner().spawn, receive, poll=0.02, **waits)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def published(handoff, note: Path) -> None:
    """Wait until ``handoff``'s open.json lists ``note``, as another server reads it."""
    for _ in range(200):
        if handoff.name in server_names_holding(handoff.folder, note):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("open.json never listed the note")


def server_names_holding(folder: Path, note: Path) -> list[str]:
    found = []
    for open_file in folder.glob("*/open.json"):
        if str(note.resolve()) in handoff_mod.json.loads(open_file.read_text())["open"]:
            found.append(open_file.parent.name)
    return found


@pytest.fixture
def note(tmp_path: Path) -> Path:
    path = tmp_path / "notes" / "2026-03-04.md"
    path.parent.mkdir()
    path.write_text("# day\n\n## Log\n")
    return path


def entry(note: Path, text: str = "- 09:05 called the bank"):
    return PendingEntry(str(note), "Log", text)


def test_a_server_whose_lock_is_free_is_dead_and_its_folder_is_removed(tmp_path: Path, note: Path):
    folder = tmp_path / "handoff"
    me = server(folder)
    # Left by a server that was killed: its lock file is there, and free.
    dead = folder / "4242-deadbeef"
    (dead / "inbox").mkdir(parents=True)
    (dead / "open.json").write_text(handoff_mod.json.dumps({"open": [str(note)]}))
    (folder / "4242-deadbeef.lock").touch()
    debris = folder / "4343-cafecafe"  # a folder without its lock file
    debris.mkdir()
    live = server(folder)
    handoff_mod.write_private(live.home / "open.json", {"open": [str(note)]})

    # The dead one had the note open: its editor may hold an unsaved buffer still.
    assert me.scan(note) == ([live.name], True)
    assert not dead.exists() and not (folder / "4242-deadbeef.lock").exists()
    assert not debris.exists()
    assert live.home.exists()  # its lock is held: it runs
    assert me.home.exists()
    asyncio.run(me.close())
    asyncio.run(live.close())
    assert list(folder.iterdir()) == []


def test_an_offer_is_claimed_put_in_by_the_holder_and_answered(tmp_path: Path, note: Path):
    folder = tmp_path / "handoff"
    holder = Holder()
    sender, owner = server(folder), server(folder, holder.receive)
    first, second = entry(note, "- 09:05 one"), entry(note, "- 09:06 two")

    async def scenario():
        owner.set_open([str(note)])
        await published(owner, note)
        return await sender.offer(note, [first, second], replayed={second.id})

    assert asyncio.run(scenario()) == handoff_mod.Offered("editor")
    [(received, replayed)] = holder.received
    assert received == [first, second]  # same ids: both journals speak of one entry
    assert replayed == {second.id}
    assert list((owner.home / "inbox").iterdir()) == []
    assert list((sender.home / "answers").iterdir()) == []
    assert note.read_text() == "# day\n\n## Log\n"  # nobody touched the file


def test_a_holder_whose_client_closed_the_note_says_so_at_once(tmp_path: Path, note: Path):
    folder = tmp_path / "handoff"
    holder = Holder(where=None)
    sender, owner = server(folder, offer_wait=10.0), server(folder, holder.receive)

    async def scenario():
        owner.set_open([str(note)])
        await published(owner, note)
        start = time.monotonic()
        where = await sender.offer(note, [entry(note)])
        return where, time.monotonic() - start

    offered, seconds = asyncio.run(scenario())
    assert offered == handoff_mod.Offered(None, unheard=False)  # the sender writes the file
    assert seconds < 2.0, "the sender waited although the holder had answered"
    assert len(holder.received) == 1


def test_an_offer_nobody_claims_is_withdrawn_and_never_put_in_later(tmp_path: Path, note: Path):
    folder = tmp_path / "handoff"
    holder = Holder()
    sender = server(folder, offer_wait=0.3)
    owner = server(folder, holder.receive)
    # It lists the note but does not read its inbox (a server that hangs, say).
    handoff_mod.write_private(owner.home / "open.json", {"open": [str(note.resolve())]})

    async def scenario():
        where = await sender.offer(note, [entry(note)])
        owner.set_open([str(note)])  # it wakes up: the offer must be gone
        await asyncio.sleep(0.2)
        await owner.close()
        return where

    assert asyncio.run(scenario()) == handoff_mod.Offered(None, unheard=True)
    assert holder.received == []


def test_a_holder_that_let_go_of_the_note_meanwhile_is_no_cause_for_alarm(
    tmp_path: Path, note: Path
):
    folder = tmp_path / "handoff"
    sender = server(folder, offer_wait=0.3)
    owner = server(folder, Holder().receive)
    handoff_mod.write_private(owner.home / "open.json", {"open": [str(note.resolve())]})

    async def scenario():
        offer = asyncio.ensure_future(sender.offer(note, [entry(note)]))
        await asyncio.sleep(0.1)
        handoff_mod.write_private(owner.home / "open.json", {"open": []})  # closed it
        return await offer

    assert asyncio.run(scenario()) == handoff_mod.Offered(None, unheard=False)


def test_a_claimed_offer_never_answered_is_written_here_after_the_long_wait(
    tmp_path: Path, note: Path
):
    folder = tmp_path / "handoff"
    holder = Holder(hang=True)
    sender = server(folder, offer_wait=0.2, claimed_wait=0.6)
    owner = server(folder, holder.receive)

    async def scenario():
        owner.set_open([str(note)])
        await published(owner, note)
        start = time.monotonic()
        where = await sender.offer(note, [entry(note)])
        return where, time.monotonic() - start

    offered, seconds = asyncio.run(scenario())
    assert len(holder.received) == 1  # claimed...
    # ...but never answered: in doubt, the sender writes it, and warns.
    assert offered == handoff_mod.Offered(None, unheard=True)
    assert seconds >= 0.75, "the sender gave up before the long wait for a claimed offer"


def test_a_holder_that_dies_after_claiming_is_not_waited_for(tmp_path: Path, note: Path):
    folder = tmp_path / "handoff"
    holder = Holder(hang=True)
    sender = server(folder, offer_wait=0.2, claimed_wait=30.0)
    owner = server(folder, holder.receive)

    async def scenario():
        owner.set_open([str(note)])
        await published(owner, note)
        offer = asyncio.ensure_future(sender.offer(note, [entry(note)]))
        while not holder.received:
            await asyncio.sleep(0.01)
        owner._lock.release()  # as the kernel does for a killed process
        start = time.monotonic()
        return await offer, time.monotonic() - start

    offered, seconds = asyncio.run(scenario())
    assert offered == handoff_mod.Offered(None, unheard=True)
    assert seconds < 5.0


def test_no_holder_no_offer(tmp_path: Path, note: Path):
    folder = tmp_path / "handoff"
    sender, other = server(folder), server(folder)
    handoff_mod.write_private(other.home / "open.json", {"open": ["/elsewhere/note.md"]})
    assert asyncio.run(sender.offer(note, [entry(note)])) == handoff_mod.Offered(None)
    assert list((other.home / "inbox").iterdir()) == []


def test_a_server_that_closes_with_nothing_open_leaves_nothing_behind(tmp_path: Path):
    folder = tmp_path / "handoff"
    sender, owner = server(folder), server(folder, Holder().receive)

    async def scenario() -> None:
        owner.set_open([str(tmp_path / "other.md")])
        owner.set_open([])
        await owner.close()

    asyncio.run(scenario())
    assert sorted(p.name for p in folder.iterdir()) == [sender.name, f"{sender.name}.lock"]


def test_a_server_stopped_while_its_editor_holds_the_note_is_reported_once(
    tmp_path: Path, note: Path
):
    folder = tmp_path / "handoff"
    sender, owner = server(folder), server(folder, Holder().receive)

    async def scenario() -> None:
        owner.set_open([str(note)])
        await published(owner, note)
        await owner.close()  # the editor keeps its buffer (eglot-shutdown)

    asyncio.run(scenario())
    assert sender.scan(note) == ([], True)  # the sender writes the file, and warns
    assert sender.scan(note) == ([], False)  # its folder is gone now
    assert sorted(p.name for p in folder.iterdir()) == [sender.name, f"{sender.name}.lock"]


def test_handoff_files_are_private(tmp_path: Path, note: Path):
    old = os.umask(0o022)  # a permissive umask: the modes must not come from it
    try:
        folder = tmp_path / "handoff"
        sender = server(folder, offer_wait=0.5)
        owner = server(folder, Holder().receive)
        handoff_mod.write_private(owner.home / "open.json", {"open": [str(note.resolve())]})
        seen: list[int] = []

        async def scenario() -> None:
            offer = asyncio.ensure_future(sender.offer(note, [entry(note)]))
            while not seen:
                for path in (owner.home / "inbox").glob("offer-*.json"):
                    seen.append(mode(path))
                await asyncio.sleep(0.01)
            await offer

        asyncio.run(scenario())
    finally:
        os.umask(old)
    assert seen == [0o600]  # the offer holds dictated text
    assert mode(folder) == 0o700
    for name in ("", "inbox", "answers"):
        assert mode(owner.home / name) == 0o700
    assert mode(owner.home / "open.json") == 0o600
    assert mode(folder / f"{owner.name}.lock") == 0o600


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (None, "without entries"),
        ([], "without entries"),
        ([{"id": "a", "path": "/n.md", "section": "Log"}], "lacks"),
        ([{"id": "a", "path": "/n.md", "section": "Log", "text": "x\0"}], "NUL"),
        (
            [
                {"id": "a", "path": "/n.md", "section": "Log", "text": "x"},
                {"id": "b", "path": "/m.md", "section": "Log", "text": "y"},
            ],
            "more than one note",
        ),
    ],
)
def test_malformed_offers_are_refused(raw, words):
    with pytest.raises(ValueError, match=words):
        handoff_mod.parse_entries(raw)
