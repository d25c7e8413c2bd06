"""Unit tests for voice_input's spool: the durable, private store of utterances.

Round trips, permissions, order, done/close, orphans, crash leftovers and kill -9 mid-write.
"""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
import wave
from pathlib import Path

import pytest

from tests.helpers import load_plugin_module

Utterance = load_plugin_module("voice_input", "segmenter").Utterance
spool_module = load_plugin_module("voice_input", "spool")
SESSION_FILE, Spool, SpoolError, pid_alive = (
    spool_module.SESSION_FILE,
    spool_module.Spool,
    spool_module.SpoolError,
    spool_module.pid_alive,
)

REPO = Path(__file__).resolve().parents[2]
DEAD_PID = 2**31 - 2  # above any pid_max, so no process ever has it


def make_utterance(index: int, seconds: float = 0.5) -> Utterance:
    """An utterance whose samples all carry its index, so a mix-up would show."""
    pcm = (index % 30000 + 1).to_bytes(2, "little") * round(seconds * 16000)
    start = index * 2.0
    return Utterance(index, start, start + seconds, pcm, False, start + seconds - 0.4)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool")


def test_round_trip(spool: Spool):
    spool.open_session("s1", {"target": "file:///notes/today.md"})
    utterance = make_utterance(3)
    stored = spool.put("s1", utterance, {"uri": "file:///notes/today.md", "text": "é so far"})
    assert stored.path == spool.folder / "s1" / "000003.wav"
    assert spool.read_pcm(stored) == utterance.pcm
    with wave.open(str(stored.path), "rb") as wav:  # any player can open it
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
    [again] = spool.pending("s1")
    assert again == stored
    assert again.context == {"uri": "file:///notes/today.md", "text": "é so far"}
    assert (again.start, again.end, again.forced) == (6.0, 6.5, False)
    info = spool.session_info("s1")
    assert info is not None
    assert info["pid"] == os.getpid()
    assert info["metadata"] == {"target": "file:///notes/today.md"}


def test_folders_and_files_are_private(tmp_path: Path):
    old = os.umask(0o022)
    try:
        existing = tmp_path / "spool"
        existing.mkdir(mode=0o755)
        spool = Spool(existing)
        spool.open_session("s1", {})
        spool.put("s1", make_utterance(0), {})
    finally:
        os.umask(old)
    assert mode(spool.folder) == 0o700
    assert mode(spool.folder / "s1") == 0o700
    for path in (spool.folder / "s1").iterdir():
        assert mode(path) == 0o600, path


def test_pending_is_in_index_order(spool: Spool):
    spool.open_session("s1", {})
    for index in [5, 0, 12, 1_000_001, 2]:  # more than six digits still sorts by number
        spool.put("s1", make_utterance(index), {"i": index})
    assert [item.index for item in spool.pending("s1")] == [0, 2, 5, 12, 1_000_001]
    assert [item.context["i"] for item in spool.pending("s1")] == [0, 2, 5, 12, 1_000_001]
    assert spool.pending("other") == []


def test_done_and_close(spool: Spool):
    spool.open_session("s1", {})
    for index in range(3):
        spool.put("s1", make_utterance(index), {})
    spool.done("s1", 1)
    spool.done("s1", 1)  # twice is harmless: a retry after a crash
    assert [item.index for item in spool.pending("s1")] == [0, 2]
    with pytest.raises(SpoolError, match="still holds 2"):
        spool.close_session("s1")
    spool.done("s1", 0)
    spool.done("s1", 2)
    spool.close_session("s1")
    assert list(spool.folder.iterdir()) == []
    spool.close_session("s1")  # already gone: nothing to do


def test_close_with_discard_drops_what_is_left(spool: Spool):
    spool.open_session("s1", {})
    spool.put("s1", make_utterance(0), {})
    spool.close_session("s1", discard=True)
    assert spool.pending("s1") == []
    assert list(spool.folder.iterdir()) == []


def test_bad_input_names_the_problem(spool: Spool):
    with pytest.raises(SpoolError, match="not open"):
        spool.put("never-opened", make_utterance(0), {})
    with pytest.raises(SpoolError, match="folder name"):
        spool.open_session("../escape", {})
    spool.open_session("s1", {})
    with pytest.raises(SpoolError, match="'context'"):
        spool.put("s1", make_utterance(0), {"when": object()})
    assert spool.pending("s1") == []  # nothing half-stored


def test_orphaned_sessions(spool: Spool):
    for name in ["alive", "dead", "dead-empty"]:
        spool.open_session(name, {"target": name})
    spool.put("alive", make_utterance(0), {})
    spool.put("dead", make_utterance(0), {})
    owners = {"alive": 111, "dead": 222, "dead-empty": 333}
    for name, pid in owners.items():  # as if three other processes had opened them
        path = spool.folder / name / SESSION_FILE
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "pid": pid}))
    assert spool.orphaned_sessions(alive=lambda pid: pid == 111) == ["dead"]
    # A dead session with nothing left is cleared away rather than reported.
    assert sorted(p.name for p in spool.folder.iterdir()) == ["alive", "dead"]
    assert spool.orphaned_sessions(alive=lambda pid: True) == []
    # The recovering process takes the orphan over; it is then its own, not an orphan.
    spool.open_session("dead", spool.session_info("dead")["metadata"])
    assert [item.index for item in spool.pending("dead")] == [0]
    assert "dead" not in spool.orphaned_sessions()


def test_a_live_owners_session_cannot_be_taken(spool: Spool):
    spool.open_session("s1", {})
    path = spool.folder / "s1" / SESSION_FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), "pid": os.getppid()}))
    with pytest.raises(SpoolError, match="running process"):
        spool.open_session("s1", {})


def test_crash_leftovers_are_ignored_and_swept(spool: Spool):
    spool.open_session("s1", {})
    spool.put("s1", make_utterance(0), {})
    spool.put("s1", make_utterance(1), {})
    folder = spool.folder / "s1"
    # What a writer killed at each step leaves behind:
    (folder / f".tmp.{DEAD_PID}.abcd1234.000002.wav").write_bytes(b"RIFF half a wav")
    (folder / f".tmp.{DEAD_PID}.abcd1234.000001.json").write_bytes(b'{"index": 1, "cont')
    spool.put("s1", make_utterance(3), {})
    (folder / "000003.json").unlink()  # a .wav whose .json never arrived
    (folder / "000004.json").write_text('{"index": 4, "created": 1.0, "context": {}')  # torn
    (folder / "000005.wav").write_bytes((folder / "000000.wav").read_bytes()[:100])
    (folder / "000005.json").write_text((folder / "000000.json").read_text())  # wav too short
    live_temp = folder / f".tmp.{os.getpid()}.live0000.000009.wav"
    live_temp.write_bytes(b"a put in progress in this process")
    assert [item.index for item in spool.pending("s1")] == [0, 1]
    spool.open_session("s1", {})  # taking the session over sweeps dead writers' temps
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == [live_temp.name]
    assert [spool.read_pcm(item) for item in spool.pending("s1")] == [
        make_utterance(0).pcm,
        make_utterance(1).pcm,
    ]


def test_pid_alive():
    assert pid_alive(os.getpid())
    assert not pid_alive(DEAD_PID)
    assert not pid_alive(0)


CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {repo!r})
    from tests.helpers import load_plugin_module
    Spool = load_plugin_module("voice_input", "spool").Spool
    from tests.unit.test_spool import make_utterance

    spool = Spool(sys.argv[1])
    spool.open_session("s1", {{"target": "cursor"}})
    for index in range(100_000):
        spool.put("s1", make_utterance(index, seconds=1 + index % 3), {{"index": index}})
        if index == 0:
            print("ready", flush=True)
    """
)


@pytest.mark.parametrize("round_", range(4))
def test_kill_9_during_puts_leaves_only_complete_pairs(tmp_path: Path, round_: int):
    folder = tmp_path / "spool"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(repo=str(REPO)), str(folder)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(random.Random(round_).uniform(0.05, 0.4))
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()

    spool = Spool(folder)
    items = spool.pending("s1")
    assert len(items) >= 1
    # Puts run in order, so the stored ones are exactly 0..n-1, each whole and correct.
    assert [item.index for item in items] == list(range(len(items)))
    for item in items:
        assert item.context == {"index": item.index}
        assert spool.read_pcm(item) == make_utterance(item.index, 1 + item.index % 3).pcm
    assert spool.orphaned_sessions() == ["s1"]  # the owner is dead
    # At most the one put in flight left anything else behind, and the sweep took its temps.
    names = {p.name for p in (folder / "s1").iterdir()}
    stored = {f"{item.index:06d}.{ext}" for item in items for ext in ("wav", "json")}
    assert names - stored <= {SESSION_FILE, f"{len(items):06d}.wav"}
