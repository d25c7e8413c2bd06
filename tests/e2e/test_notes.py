"""Daily notes over LSP with the real server: open, append (closed and open notes),
concurrency across processes, crash recovery, link completion and bad input."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from .conftest import (
    StartServer,
    change_text,
    close_document,
    execute,
    open_document,
    server_pid,
)

ENTRY = re.compile(r"^- \d\d:\d\d (.*)$")


def today() -> dt.date:
    return dt.date.today()


def entries(note: str) -> list[str]:
    return [m.group(1) for line in note.splitlines() if (m := ENTRY.match(line))]


@pytest.fixture
def notes_dir(tmp_path: Path) -> Path:
    return tmp_path / "workspace" / "notes" / "daily"


async def test_open_creates_today_from_the_template_and_shows_it(
    start_server: StartServer, tmp_path: Path, notes_dir: Path
):
    yesterday = today() - dt.timedelta(days=2)  # a gap: the previous note is not yesterday's
    notes_dir.mkdir(parents=True)
    (notes_dir / f"{yesterday.isoformat()}.md").write_text(
        "# old\n\n- [ ] ship the parser\n- [x] done thing\n  - [ ] nested follow-up\n"
    )
    template = tmp_path / "workspace" / "day.md"
    template.write_text(
        "# {{date}} ({{weekday}})\n\nPrevious: {{previous}} Next: {{next}}\n\n"
        "## Tasks\n{{tasks}}\n\n## Log\n"
    )
    client = await start_server(init_options={"notes": {"template": "day.md"}})
    answer = await execute(client, "butler.note.open", {"date": "today"})
    path = notes_dir / f"{today().isoformat()}.md"
    assert answer["path"] == str(path)
    assert answer["uri"] == path.as_uri()
    assert answer["created"] is True
    text = path.read_text()
    assert text.startswith(f"# {today().isoformat()} ({today().strftime('%A')})")
    assert f"Previous: [[{yesterday.isoformat()}]]" in text
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    assert f"Next: [[{tomorrow}]]" in text
    assert "- [ ] ship the parser" in text and "  - [ ] nested follow-up" in text
    assert "done thing" not in text
    shown = client.shown_documents[-1]
    assert shown.uri == path.as_uri() and shown.take_focus is True

    again = await execute(client, "butler.note.open", {})
    assert again["created"] is False
    assert path.read_text() == text


@pytest.mark.parametrize(
    ("date", "delta"), [("yesterday", -1), ("tomorrow", 1), ("-3", -3), ("+2", 2)]
)
async def test_open_understands_relative_dates(
    start_server: StartServer, notes_dir: Path, date: str, delta: int
):
    client = await start_server()
    answer = await execute(client, "butler.note.open", {"date": date})
    expected = today() + dt.timedelta(days=delta)
    assert answer["path"] == str(notes_dir / f"{expected.isoformat()}.md")


async def test_filename_format_with_subfolders(start_server: StartServer, tmp_path: Path):
    client = await start_server(
        init_options={
            "notes": {"directory": str(tmp_path / "n"), "filenameFormat": "%Y/%m/%Y-%m-%d.md"}
        }
    )
    answer = await execute(client, "butler.note.open", {"date": "2026-03-04"})
    assert answer["path"] == str(tmp_path / "n" / "2026" / "03" / "2026-03-04.md")
    assert Path(answer["path"]).is_file()


async def test_appends_to_a_closed_note_land_on_disk_in_order(
    start_server: StartServer, notes_dir: Path
):
    path = notes_dir / f"{today().isoformat()}.md"
    notes_dir.mkdir(parents=True)
    path.write_text("# Today\n\n## Log\n- 08:00 first\n\n## Later\nkeep me\n")
    client = await start_server()
    answers = await asyncio.gather(
        *(execute(client, "butler.note.append", {"text": f"entry {i}"}) for i in range(30))
    )
    assert {a["writtenTo"] for a in answers} == {"disk"}
    assert answers[0]["path"] == str(path)
    note = path.read_text()
    assert entries(note) == ["first"] + [f"entry {i}" for i in range(30)]
    # Entries went under ## Log, before the next section, which is intact.
    assert note.index("entry 29") < note.index("## Later")
    assert note.endswith("## Later\nkeep me\n")
    status = await execute(client, "butler.status")
    assert status["capabilities"] and "notes.daily" in status["capabilities"]


async def test_sections_and_dates_of_entries(start_server: StartServer, notes_dir: Path):
    client = await start_server()
    await execute(client, "butler.note.append", {"text": "plan\nsecond line", "section": "Ideas"})
    await execute(client, "butler.note.append", {"text": "old news", "date": "yesterday"})
    note = (notes_dir / f"{today().isoformat()}.md").read_text()
    assert re.search(r"## Ideas\n- \d\d:\d\d plan\n  second line\n", note)
    assert note.startswith(f"# {today().isoformat()}")  # created from the default template
    older = notes_dir / f"{(today() - dt.timedelta(days=1)).isoformat()}.md"
    assert entries(older.read_text()) == ["old news"]


async def test_append_to_an_open_note_is_an_edit_and_keeps_unsaved_changes(
    start_server: StartServer, notes_dir: Path
):
    path = notes_dir / f"{today().isoformat()}.md"
    notes_dir.mkdir(parents=True)
    on_disk = "# Today\n\n## Log\n"
    path.write_text(on_disk)
    client = await start_server()
    uri = open_document(client, path, "# Today\n\nunsaved thoughts\n\n## Log\n")
    answer = await execute(client, "butler.note.append", {"text": "from the command"})
    assert answer["writtenTo"] == "editor"
    buffer = client.editor.documents[uri].source
    assert "unsaved thoughts" in buffer
    assert entries(buffer) == ["from the command"]
    assert path.read_text() == on_disk  # the file is the editor's business
    assert client.editor.applied, "no workspace/applyEdit was sent"

    # The user keeps typing above the log while entries arrive: nothing is scrambled.
    async def type_lines():
        for i in range(10):
            change_text(
                client,
                uri,
                types.Range(types.Position(2, 0), types.Position(2, 0)),
                f"typed {i}\n",
            )
            await asyncio.sleep(0.005)

    appends = [execute(client, "butler.note.append", {"text": f"spoken {i}"}) for i in range(10)]
    await asyncio.gather(type_lines(), *appends)
    buffer = client.editor.documents[uri].source
    assert entries(buffer) == ["from the command"] + [f"spoken {i}" for i in range(10)]
    typed = [line for line in buffer.splitlines() if line.startswith("typed")]
    assert typed == [f"typed {i}" for i in reversed(range(10))]

    # Closed without saving: the next entry goes to disk.
    close_document(client, uri)
    answer = await execute(client, "butler.note.append", {"text": "after close"})
    assert answer["writtenTo"] == "disk"
    assert entries(path.read_text()) == ["after close"]


async def test_four_servers_append_to_one_note_and_lose_nothing(
    start_server: StartServer, tmp_path: Path
):
    folder = tmp_path / "shared-notes"
    options = {"notes": {"directory": str(folder)}}
    clients = [await start_server(init_options=options) for _ in range(4)]

    async def burst(n: int, client) -> None:
        for chunk in range(0, 250, 50):
            await asyncio.gather(
                *(
                    execute(client, "butler.note.append", {"text": f"p{n} e{i}"})
                    for i in range(chunk, chunk + 50)
                )
            )

    await asyncio.gather(*(burst(n, c) for n, c in enumerate(clients)))
    found = entries((folder / f"{today().isoformat()}.md").read_text())
    assert len(found) == 1000
    assert sorted(found) == sorted(f"p{n} e{i}" for n in range(4) for i in range(250))
    for n in range(4):  # each server's entries stay in the order it sent them
        mine = [e for e in found if e.startswith(f"p{n} ")]
        assert mine == [f"p{n} e{i}" for i in range(250)]


async def test_kill_9_mid_burst_loses_no_acknowledged_entry(
    start_server: StartServer, notes_dir: Path
):
    client = await start_server()
    acknowledged: list[str] = []

    async def append(i: int) -> None:
        await execute(client, "butler.note.append", {"text": f"burst {i}"})
        acknowledged.append(f"burst {i}")

    tasks = [asyncio.ensure_future(append(i)) for i in range(400)]
    while len(acknowledged) < 50:
        await asyncio.sleep(0.002)
    os.kill(server_pid(client), signal.SIGKILL)
    await asyncio.gather(*tasks, return_exceptions=True)
    path = notes_dir / f"{today().isoformat()}.md"
    before = entries(path.read_text())
    assert set(acknowledged) <= set(before)
    # Never torn: every line is a template line or a whole entry.
    for line in path.read_text().splitlines():
        assert line == "" or line.startswith("#") or ENTRY.match(line) or "[[" in line, line

    # The next session replays what was journaled but not yet written, exactly once.
    client2 = await start_server()
    for _ in range(100):
        status = await execute(client2, "butler.status")
        if status["notes"]["pendingEntries"] == 0:
            break
        await asyncio.sleep(0.05)
    after = entries(path.read_text())
    assert len(after) == len(set(after)), "an entry was written twice"
    assert set(before) <= set(after)
    numbers = [int(e.split()[1]) for e in after]
    assert numbers == sorted(numbers)


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"date": "../../etc/passwd"}, "not a date Butler understands"),
        ({"date": "2026-02-30"}, "day is out of range"),
        ({"date": 20260101}, "arguments.date"),
    ],
)
async def test_bad_dates_name_the_accepted_forms(start_server: StartServer, arguments, words):
    client = await start_server()
    with pytest.raises(JsonRpcInvalidParams) as caught:
        await execute(client, "butler.note.open", arguments)
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"text": "x", "section": "../../outside"}, "heading inside the note"),
        ({"text": "x", "section": "/etc"}, "heading inside the note"),
        ({"text": "   "}, "entry is empty"),
        ({}, "text"),
        ({"text": "x", "date": "someday"}, "YYYY-MM-DD"),
    ],
)
async def test_bad_appends_are_refused(
    start_server: StartServer, notes_dir: Path, arguments, words
):
    client = await start_server()
    with pytest.raises(JsonRpcInvalidParams) as caught:
        await execute(client, "butler.note.append", arguments)
    assert words in caught.value.message
    assert not notes_dir.exists() or not any(notes_dir.rglob("*.md"))


async def test_a_filename_format_that_leaves_the_folder_is_refused(
    start_server: StartServer, tmp_path: Path
):
    client = await start_server(
        init_options={
            "notes": {"directory": str(tmp_path / "n"), "filenameFormat": "../../%Y-%m-%d.md"}
        }
    )
    with pytest.raises(JsonRpcException, match="outside the notes folder"):
        await execute(client, "butler.note.append", {"text": "x"})
    assert not list(tmp_path.glob("*.md"))


async def test_unwritable_notes_folder_keeps_the_entry_and_retries(
    start_server: StartServer, tmp_path: Path
):
    blocker = tmp_path / "notes-here"
    blocker.write_text("a file where the notes folder should be")
    folder = blocker / "daily"
    client = await start_server(init_options={"notes": {"directory": str(folder)}})
    with pytest.raises(JsonRpcException) as caught:
        await execute(client, "butler.note.append", {"text": "precious words"})
    message = caught.value.message
    assert "cannot write" in message and str(blocker) in message
    assert "kept in Butler's journal" in message
    status = await execute(client, "butler.status")
    assert status["notes"]["pendingEntries"] == 1

    blocker.unlink()  # the user fixes the folder; Butler's retry writes the entry
    note = folder / f"{today().isoformat()}.md"
    for _ in range(100):
        if note.exists() and "precious words" in note.read_text():
            break
        await asyncio.sleep(0.1)
    assert entries(note.read_text()) == ["precious words"]
    status = await execute(client, "butler.status")
    assert status["notes"]["pendingEntries"] == 0


async def test_double_bracket_offers_daily_notes(start_server: StartServer, notes_dir: Path):
    notes_dir.mkdir(parents=True)
    for day in ("2026-01-01", "2026-01-02"):
        (notes_dir / f"{day}.md").write_text("# x\n")
    (notes_dir / "not-a-note.md").write_text("no date in the name\n")
    client = await start_server()
    uri = open_document(client, notes_dir.parent / "draft.md", "see [[2026")
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(0, 10),
            context=types.CompletionContext(
                trigger_kind=types.CompletionTriggerKind.TriggerCharacter, trigger_character="["
            ),
        )
    )
    labels = [item.label for item in result.items]
    assert labels == ["2026-01-02", "2026-01-01"]
    edit = result.items[0].text_edit
    assert edit.new_text == "2026-01-02]]"
    assert (edit.range.start.character, edit.range.end.character) == (6, 10)
    nothing = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(0, 3)
        )
    )
    assert not nothing.items
