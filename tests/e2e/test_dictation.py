"""Live dictation with the real server, worker and model: recordings played as the microphone,
a real (virtual) microphone, voice commands, the user typing meanwhile, kills, and bad input."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from butler_ls.util.word_errors import wer
from tests.helpers import load_plugin_module

from .conftest import StartServer, change_text, close_document, execute, open_document

recordings = load_plugin_module("voice_input", "recordings")
join_recordings = recordings.join_recordings
DATA = Path(__file__).resolve().parents[1] / "data" / "speech"
COMMANDS = Path(__file__).resolve().parents[1] / "data" / "commands"
REFERENCES = dict(
    line.split("\t", 1) for line in (DATA / "references.tsv").read_text().splitlines() if line
)
THREE = ["ps_goforward.wav", "arctic_a0007.wav", "ps_librivox_0890.wav"]


def stream_of(paths: list[Path], out: Path, pause: float = 1.2) -> Path:
    """One recording of ``paths`` in turn with ``pause`` seconds of silence after each."""
    join_recordings(paths, out, pause, lead=0.0)
    return out


def watch_states(client) -> list:
    """Collect ``butler/dictationState`` notifications."""
    states: list = []

    @client.feature("butler/dictationState")
    def on_state(params) -> None:
        states.append(params)

    return states


async def played(client, states: list, started: dict, timeout: float = 90) -> dict:
    """Wait until the recording has played and its text is in; then stop's answer."""
    session = started["sessionId"]
    await until(
        lambda: any(s.sessionId == session and s.state in ("idle", "error") for s in states),
        timeout,
        "the recording to play",
    )
    return await execute(client, "butler.dictation.stop", started)


async def until(predicate, timeout: float = 60.0, what: str = "a condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def today_note(root: Path) -> Path:
    return root / "notes" / "daily" / f"{dt.date.today():%Y-%m-%d}.md"


def in_order(text: str, words: list[str]) -> bool:
    """Whether each word appears in ``text`` exactly once, in this order."""
    low = text.lower()
    at = [low.find(word) for word in words]
    return all(low.count(word) == 1 for word in words) and at == sorted(at) and -1 not in at


async def test_a_recording_streams_in_order_while_the_user_types(
    start_server: StartServer, tmp_path: Path
):
    audio = stream_of([DATA / name for name in THREE], tmp_path / "three.wav")
    client = await start_server()
    states = watch_states(client)
    uri = open_document(client, tmp_path / "draft.md", "# Draft\n\nNotes: \n\nThe end.\n")
    started = await execute(
        client,
        "butler.dictation.start",
        {"uri": uri, "position": {"line": 2, "character": 7}, "audioFile": str(audio)},
    )
    session = started["sessionId"]
    document = client.editor.documents[uri]
    # The user types above and below the dictation point while the words come in.
    for i in range(6):
        await asyncio.sleep(0.8)
        change_text(client, uri, types.Range(types.Position(0, 0), types.Position(0, 0)), f"{i}")
        last = len(document.lines)
        change_text(client, uri, types.Range(types.Position(last, 0), types.Position(last, 0)), "z")
    answer = await played(client, states, started)

    text = document.source
    assert text.startswith("543210# Draft\n\nNotes: ")
    assert text.endswith("\n\nThe end.\nzzzzzz")
    dictated = text.split("Notes: ", 1)[1].split("\n\nThe end.")[0]
    assert dictated == answer["text"]
    reference = " ".join(REFERENCES[name] for name in THREE)
    assert wer(reference, dictated) <= 0.25, dictated
    assert in_order(dictated, ["forward", "superlative", "selfish"]), dictated
    assert [u["index"] for u in answer["utterances"]] == [0, 1, 2]
    for utterance in answer["utterances"]:
        assert 0 <= utterance["vad"] < 1.0 and utterance["total"] > 0

    mine = [s for s in states if s.sessionId == session]
    assert mine[-1].state == "idle" and mine[-1].pending == 0
    listening = [s for s in mine if s.state == "listening"]
    assert max(s.level for s in listening) > -40 > min(s.level for s in listening)
    assert all(isinstance(s.pending, int) for s in mine)
    assert mine[0].uri == uri and mine[0].target == "cursor" and mine[0].source == "file"
    # Provisional words of the utterance being spoken, never in the buffer.
    assert any(getattr(s, "partial", "") for s in listening)
    assert len(mine) >= 10 * 8  # about ten a second over ~10 s of audio


async def test_pauses_inside_and_between_sentences_lose_and_double_no_word(
    start_server: StartServer, tmp_path: Path
):
    # Real speech played in real time with a pause inside each sentence (at a gap between
    # words: 0.25 and 0.35 s, shorter than the 0.4 s that ends an utterance, then 0.5 and
    # 0.8 s, longer) and 0.6 to 1.5 s between sentences; the end of an utterance is the
    # default, semantic one (a finished sentence ends it early).
    names = [
        "ps_librivox_0870.wav",
        "ps_librivox_0880.wav",
        "ps_librivox_0890.wav",
        "ps_librivox_0920.wav",
        "ps_librivox_0930.wav",
        "arctic_a0007.wav",
    ]
    audio = tmp_path / "paused.wav"
    recordings.join_with_pauses(
        [DATA / name for name in names], audio, [0.6, 1.0, 1.5], [0.25, 0.35, 0.5, 0.8]
    )
    client = await start_server()
    states = watch_states(client)
    uri = open_document(client, tmp_path / "draft.md", "")
    started = await execute(client, "butler.dictation.start", {"uri": uri, "audioFile": str(audio)})
    answer = await played(client, states, started, timeout=150)
    text = client.editor.documents[uri].source
    assert text == answer["text"]
    # The WER bound of dictation today (tiny.en: 4 to 6% on these words).
    reference = " ".join(REFERENCES[name] for name in names)
    assert wer(reference, text) <= 0.15, text
    # No word lost or doubled where a pause cut a sentence or an utterance ended early.
    words = ["dashwood", "leisure", "prudently", "young", "selfish", "married"]
    assert in_order(text, [*words, "respectable", "himself", "superlative"]), text
    # Every sentence ended an utterance (the pauses between them are longer than 0.4 s),
    # and all came in, in order.
    assert len(answer["utterances"]) >= len(names)
    assert [u["index"] for u in answer["utterances"]] == list(range(len(answer["utterances"])))


async def test_voice_commands(start_server: StartServer, tmp_path: Path):
    names = [
        "first_line_new_line",
        "um_this_is_wrong",
        "scratch_that",
        "is_it_working",
        "new_paragraph",
        "colours",
    ]
    audio = stream_of([COMMANDS / f"{name}.wav" for name in names], tmp_path / "cmd.wav")
    client = await start_server()
    states = watch_states(client)
    uri = open_document(client, tmp_path / "todo.md", "")
    started = await execute(
        client, "butler.dictation.start", {"uri": uri, "audioFile": str(audio), "speed": 2.0}
    )
    answer = await played(client, states, started)
    text = client.editor.documents[uri].source
    assert text == answer["text"]
    assert text == "First line\nIs it working?\n\nRed, green, blue.", repr(text)


async def test_daily_note_target_and_a_document_closed_midway(
    start_server: StartServer, tmp_path: Path
):
    root = tmp_path / "workspace"
    client = await start_server(root=root)
    states = watch_states(client)
    started = await execute(
        client,
        "butler.dictation.start",
        {"target": "dailyNote", "audioFile": str(DATA / "ps_goforward.wav"), "speed": 2.0},
    )
    await played(client, states, started)
    note = today_note(root).read_text()
    assert "forward" in note.lower()

    audio = stream_of([DATA / name for name in THREE], tmp_path / "three.wav")
    uri = open_document(client, tmp_path / "draft.md", "Draft: ")
    started = await execute(
        client, "butler.dictation.start", {"uri": uri, "audioFile": str(audio), "speed": 1.5}
    )
    # Close the document once the first utterance is in; the rest goes to the note.
    await until(lambda: "forward" in client.editor.documents[uri].source.lower(), 30, "text")
    close_document(client, uri)
    answer = await played(client, states, started)
    note = today_note(root).read_text().lower()
    assert "selfish" in note and "superlative" in note
    assert "selfish" in answer["text"].lower()
    assert any("was closed" in (getattr(s, "message", "") or "") for s in states)


async def held_worker(client, states: list) -> int:
    """Stop the worker (SIGSTOP) and wait until an utterance is spooled and waits for it."""
    status: dict = {}

    async def worker_pid() -> int | None:
        nonlocal status
        status = await execute(client, "butler.queue.status")
        return status["worker"].get("pid")

    deadline = time.monotonic() + 30
    while (pid := await worker_pid()) is None:
        assert time.monotonic() < deadline, f"no worker started: {status}"
        await asyncio.sleep(0.05)
    os.kill(pid, signal.SIGSTOP)
    await until(lambda: any(s.pending for s in states), 30, "an utterance to be spooled")
    return pid


async def test_killing_the_worker_mid_dictation_loses_nothing(
    start_server: StartServer, tmp_path: Path
):
    audio = stream_of([DATA / name for name in THREE], tmp_path / "three.wav", pause=1.5)
    client = await start_server()
    states = watch_states(client)
    uri = open_document(client, tmp_path / "draft.md", "")
    started = await execute(client, "butler.dictation.start", {"uri": uri, "audioFile": str(audio)})
    # Kill the worker while the first utterance waits for it (held still until then:
    # speculative transcription makes the pending time otherwise too short to catch).
    worker = await held_worker(client, states)
    os.kill(worker, signal.SIGKILL)
    answer = await played(client, states, started)
    text = client.editor.documents[uri].source
    assert text == answer["text"]
    assert in_order(text, ["forward", "superlative", "selfish"]), text
    assert (await execute(client, "butler.queue.status"))["worker"]["pid"] != worker


async def test_killing_the_server_mid_dictation_recovers_into_todays_note(
    start_server: StartServer, tmp_path: Path
):
    root = tmp_path / "workspace"
    audio = stream_of([DATA / "ps_librivox_0890.wav"], tmp_path / "one.wav")
    client = await start_server(root=root)
    states = watch_states(client)
    uri = open_document(client, tmp_path / "draft.md", "")
    await execute(client, "butler.dictation.start", {"uri": uri, "audioFile": str(audio)})
    worker = await held_worker(client, states)
    client._server.kill()
    await client._server.wait()
    os.kill(worker, signal.SIGKILL)

    again = await start_server(root=root)
    note = today_note(root)
    await until(
        lambda: note.exists() and "selfish" in note.read_text().lower(), 90, "recovered text"
    )
    text = note.read_text()
    assert "## Recovered dictation" in text
    assert text.lower().count("selfish") == 1
    assert "(dictated " in text and uri in text
    await execute(again, "butler.status")  # and the new server is fine


async def test_bad_input_is_refused_clearly(start_server: StartServer, tmp_path: Path):
    client = await start_server()
    uri = open_document(client, tmp_path / "draft.md", "")
    with pytest.raises(JsonRpcInvalidParams, match="speed"):
        await execute(client, "butler.dictation.start", {"uri": uri, "audioFile": "x", "speed": 0})
    with pytest.raises(JsonRpcInvalidParams, match="uri"):
        await execute(client, "butler.dictation.start", {"audioFile": str(DATA / THREE[0])})
    with pytest.raises(JsonRpcInvalidParams, match="not open"):
        await execute(client, "butler.dictation.start", {"uri": "file:///nope.md"})
    with pytest.raises(JsonRpcInvalidParams, match="audioFile"):
        await execute(client, "butler.dictation.start", {"uri": uri, "audioFile": "missing.wav"})
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    with pytest.raises(JsonRpcException, match=r"corrupt\.wav"):
        await execute(client, "butler.dictation.start", {"uri": uri, "audioFile": str(corrupt)})
    with pytest.raises(JsonRpcException, match="no dictation is running"):
        await execute(client, "butler.dictation.stop")
    started = await execute(
        client, "butler.dictation.start", {"uri": uri, "audioFile": str(DATA / THREE[0])}
    )
    with pytest.raises(JsonRpcException, match="already running"):
        await execute(client, "butler.dictation.start", {"uri": uri, "audioFile": "x.wav"})
    assert await execute(client, "butler.dictation.cancel") == started


async def test_no_microphone_is_a_clear_error(
    start_server: StartServer, butler_env: dict, tmp_path: Path
):
    # No sound server to reach: PortAudio lists no input device.
    empty = tmp_path / "no-pulse"
    empty.mkdir(mode=0o700)
    butler_env.update(XDG_RUNTIME_DIR=str(empty), PULSE_SERVER=f"unix:{empty}/none")
    client = await start_server()
    uri = open_document(client, tmp_path / "draft.md", "")
    with pytest.raises(JsonRpcException, match=r"no microphone.*connect a microphone"):
        await execute(client, "butler.dictation.start", {"uri": uri})
    status = await execute(client, "butler.status")
    assert status["audio"]["available"] is False
    assert "no microphone" in status["audio"]["reason"]
    # Everything else still works.
    await execute(client, "butler.note.append", {"text": "still here"})


async def test_dictation_from_a_real_microphone(
    start_server: StartServer, butler_env: dict, tmp_path: Path, virtual_microphone
):
    butler_env.update(virtual_microphone.env)
    client = await start_server()
    status = await execute(client, "butler.status")
    assert status["audio"]["available"] is True, status["audio"]
    uri = open_document(client, tmp_path / "draft.md", "Heard: ")
    states = watch_states(client)
    started = await execute(client, "butler.dictation.start", {"uri": uri})
    await asyncio.sleep(0.3)
    audio = stream_of([DATA / name for name in THREE[:2]], tmp_path / "two.wav", pause=1.0)
    await asyncio.to_thread(virtual_microphone.play, audio)
    answer = await execute(client, "butler.dictation.stop", started)
    text = client.editor.documents[uri].source
    assert text == "Heard: " + answer["text"]
    reference = " ".join(REFERENCES[name] for name in THREE[:2])
    assert wer(reference, answer["text"]) <= 0.25, answer["text"]
    assert any(s.source == "microphone" and s.level > -40 for s in states if s.level)


async def test_a_missing_named_device_lists_the_ones_there_are(
    start_server: StartServer, butler_env: dict, tmp_path: Path, virtual_microphone
):
    butler_env.update(virtual_microphone.env)
    client = await start_server(init_options={"audio": {"device": "USB Podcast Mic"}})
    uri = open_document(client, tmp_path / "draft.md", "")
    with pytest.raises(JsonRpcException, match=r"'USB Podcast Mic'.*available:.*pulse"):
        await execute(client, "butler.dictation.start", {"uri": uri})


async def test_dictation_through_a_redis_queue(
    start_server: StartServer, tmp_path: Path, redis_url
):
    # The utterances travel to the worker inside the job, as they would to another machine.
    audio = stream_of([DATA / name for name in THREE[:2]], tmp_path / "two.wav")
    client = await start_server(init_options={"queue": {"backend": "redis", "url": redis_url}})
    states = watch_states(client)
    uri = open_document(client, tmp_path / "draft.md", "")
    started = await execute(
        client, "butler.dictation.start", {"uri": uri, "audioFile": str(audio), "speed": 2.0}
    )
    answer = await played(client, states, started)
    assert client.editor.documents[uri].source == answer["text"]
    assert in_order(answer["text"], ["forward", "superlative"]), answer["text"]
    assert (await execute(client, "butler.queue.status"))["backend"] == "redis"


async def test_a_double_press_opens_one_session(start_server: StartServer, tmp_path: Path):
    client = await start_server()
    uri = open_document(client, tmp_path / "draft.md", "")
    start = {"uri": uri, "audioFile": str(DATA / THREE[0])}
    answers = await asyncio.gather(
        execute(client, "butler.dictation.start", start),
        execute(client, "butler.dictation.start", start),
        return_exceptions=True,
    )
    refused = [a for a in answers if isinstance(a, JsonRpcException)]
    assert len(refused) == 1 and "already running" in str(refused[0]), answers
    # Toggle twice at once: the first stops the running session, the second starts anew.
    first, second = await asyncio.gather(
        execute(client, "butler.dictation.toggle", start),
        execute(client, "butler.dictation.toggle", start),
    )
    assert "text" in first and set(second) == {"sessionId"}
    await execute(client, "butler.dictation.cancel", second)


async def test_cancel_drops_what_is_still_on_its_way(
    start_server: StartServer, tmp_path: Path, butler_env: dict
):
    client = await start_server()
    states = watch_states(client)
    uri = open_document(client, tmp_path / "draft.md", "Kept. ")
    started = await execute(
        client, "butler.dictation.start", {"uri": uri, "audioFile": str(DATA / THREE[2])}
    )
    worker = await held_worker(client, states)  # an utterance waits for its text
    assert await execute(client, "butler.dictation.cancel", started) == started
    os.kill(worker, signal.SIGCONT)  # the worker may finish the job now: its text is dropped
    await asyncio.sleep(3.0)
    assert client.editor.documents[uri].source == "Kept. "
    spool = Path(butler_env["XDG_DATA_HOME"]) / "butler" / "plugin-data" / "voice_input" / "spool"
    assert [p.name for p in spool.iterdir() if not p.name.startswith(".")] == []
