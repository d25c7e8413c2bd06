"""Two real Butler servers and one note: an append on one server goes into the other
editor's unsaved buffer, never under it on disk; closed or killed, the file takes it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from .conftest import StartServer, close_document, execute, open_document, server_pid

ENTRY = re.compile(r"^- \d\d:\d\d (.*)$")
ON_DISK = "# Today\n\n## Log\n- 08:00 saved earlier\n"
UNSAVED = "# Today\n\nunsaved thoughts\n\n## Log\n- 08:00 saved earlier\n"


def entries(note: str) -> list[str]:
    return [m.group(1) for line in note.splitlines() if (m := ENTRY.match(line))]


@pytest.fixture
def note(tmp_path: Path) -> Path:
    path = tmp_path / "workspace" / "notes" / "daily" / f"{dt.date.today().isoformat()}.md"
    path.parent.mkdir(parents=True)
    path.write_bytes(ON_DISK.encode())
    return path


def handoff_folder(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "butler" / "plugin-data" / "daily_writer" / "handoff"


def servers_holding(env: dict[str, str], path: Path) -> int:
    """How many servers tell the others, in the shared folder, that their editor has it open."""
    held = 0
    for listing in handoff_folder(env).glob("*/open.json"):
        with contextlib.suppress(OSError, ValueError):  # being replaced
            held += str(path.resolve()) in json.loads(listing.read_text())["open"]
    return held


async def until(condition, what: str) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting until {what}")


async def pending(client) -> int:
    return (await execute(client, "butler.status"))["notes"]["pendingEntries"]


async def test_an_append_goes_into_the_other_editors_unsaved_buffer_not_under_it(
    start_server: StartServer, butler_env: dict[str, str], note: Path
):
    a = await start_server()
    b = await start_server()
    uri = open_document(b, note, UNSAVED)
    await until(lambda: servers_holding(butler_env, note) == 1, "B says it holds the note")

    answer = await execute(a, "butler.note.append", {"text": "from the other server"})
    assert answer["writtenTo"] == "editor"
    buffer = b.editor.documents[uri].source
    assert "unsaved thoughts" in buffer
    assert entries(buffer) == ["saved earlier", "from the other server"]
    assert b.editor.applied, "B's editor got no workspace/applyEdit"
    assert note.read_bytes() == ON_DISK.encode()  # so saving in B prompts about nothing

    # A burst from A: every entry in B's buffer, in A's order, none in the file.
    await asyncio.gather(
        *(execute(a, "butler.note.append", {"text": f"burst {i}"}) for i in range(20))
    )
    buffer = b.editor.documents[uri].source
    assert entries(buffer) == ["saved earlier", "from the other server"] + [
        f"burst {i}" for i in range(20)
    ]
    assert note.read_bytes() == ON_DISK.encode()
    assert await pending(a) == 0 and await pending(b) == 0  # nothing waits in a journal
    assert not a.messages


async def test_once_the_other_editor_closes_the_note_the_file_takes_the_entry(
    start_server: StartServer, butler_env: dict[str, str], note: Path
):
    a = await start_server()
    b = await start_server()
    uri = open_document(b, note, UNSAVED)
    await until(lambda: servers_holding(butler_env, note) == 1, "B says it holds the note")
    close_document(b, uri)  # closed without saving
    await until(lambda: servers_holding(butler_env, note) == 0, "B says it let the note go")

    answer = await execute(a, "butler.note.append", {"text": "after B closed it"})
    assert answer["writtenTo"] == "disk"
    assert entries(note.read_text()) == ["saved earlier", "after B closed it"]
    assert not b.editor.applied
    assert await pending(a) == 0
    assert not a.messages  # B let the note go: nothing to warn about


async def test_a_killed_holder_does_not_keep_the_entry_from_the_file(
    start_server: StartServer, butler_env: dict[str, str], note: Path
):
    a = await start_server()
    b = await start_server()
    open_document(b, note, UNSAVED)
    await until(lambda: servers_holding(butler_env, note) == 1, "B says it holds the note")
    os.kill(server_pid(b), signal.SIGKILL)
    assert b._server is not None
    await b._server.wait()

    start = time.monotonic()
    answer = await asyncio.wait_for(
        execute(a, "butler.note.append", {"text": "B is gone"}), timeout=25
    )
    seconds = time.monotonic() - start
    assert answer["writtenTo"] == "disk"
    assert entries(note.read_text()) == ["saved earlier", "B is gone"]
    # Its free lock shows it dead at once: A neither waited for it nor kept its folder.
    assert seconds < 2.5, f"A waited {seconds:.1f} s for a dead server"
    assert servers_holding(butler_env, note) == 0
    assert len(list(handoff_folder(butler_env).glob("*.lock"))) == 1
    # B's editor may still hold its unsaved buffer: saving it over the file would drop
    # the entry, so A's user is told.
    [warning] = [m.message for m in a.messages]
    assert f"another editor had {note.name} open" in warning and "say no" in warning
