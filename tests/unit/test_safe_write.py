"""Unit tests for butler_ls.util.safe_write: atomic writes, appends and the file lock.

Covers permissions, errors that leave the old file intact, kill -9, and concurrent writers.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import filelock
import pytest

from butler_ls.util import safe_write
from butler_ls.util.errors import WriteError
from butler_ls.util.safe_write import (
    append_text,
    atomic_write,
    file_lock,
    lock_path_for,
    update_file,
)
from tests.helpers import run_unprivileged

CHILD = Path(__file__).with_name("_safe_write_child.py")


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def start_child(*args: object) -> subprocess.Popen[str]:
    """Start the helper child and wait until it says it is running."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.stdout is not None
    proc.stdout.close()


@pytest.fixture
def umask():
    """Set the process umask for one test and put the old one back."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


# --- atomic_write -----------------------------------------------------------------------


def test_lock_path_is_a_hidden_sibling(tmp_path: Path) -> None:
    assert lock_path_for(tmp_path / "note.md") == tmp_path / ".note.md.lock"


def test_atomic_write_creates_and_replaces(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    atomic_write(note, "first")
    assert note.read_text() == "first"
    atomic_write(str(note), "second")
    assert note.read_text() == "second"
    assert temp_files(tmp_path) == []


def test_atomic_write_str_and_bytes(tmp_path: Path) -> None:
    atomic_write(tmp_path / "a.txt", "héllo")
    assert (tmp_path / "a.txt").read_bytes() == "héllo".encode()
    atomic_write(tmp_path / "b.txt", "héllo", encoding="latin-1")
    assert (tmp_path / "b.txt").read_bytes() == b"h\xe9llo"
    atomic_write(tmp_path / "c.bin", b"\x00\xff\x10")
    assert (tmp_path / "c.bin").read_bytes() == b"\x00\xff\x10"


def test_atomic_write_creates_missing_parents(tmp_path: Path) -> None:
    note = tmp_path / "a" / "b" / "c" / "note.md"
    atomic_write(note, "deep")
    assert note.read_text() == "deep"


@pytest.mark.parametrize("mode", [0o640, 0o600, 0o664])
def test_atomic_write_keeps_permission_bits(tmp_path: Path, mode: int) -> None:
    note = tmp_path / "note.md"
    note.write_text("old")
    note.chmod(mode)
    atomic_write(note, "new")
    assert note.stat().st_mode & 0o7777 == mode


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_new_file_mode_follows_umask(tmp_path: Path, umask, mask: int, expected: int) -> None:
    umask(mask)
    atomic_write(tmp_path / "note.md", "new")
    assert (tmp_path / "note.md").stat().st_mode & 0o7777 == expected


def test_atomic_write_through_symlink_updates_the_target(tmp_path: Path) -> None:
    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    atomic_write(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"


def test_leftover_temp_files_of_a_killed_writer_are_swept(tmp_path: Path) -> None:
    stale = tmp_path / ".note.md.abcd_123.tmp"
    other = tmp_path / ".note.md.bak.abcd_123.tmp"  # belongs to note.md.bak, not ours
    stale.write_text("half")
    other.write_text("someone else's")
    atomic_write(tmp_path / "note.md", "new")
    assert not stale.exists()
    assert other.exists()


# --- update_file and append_text ----------------------------------------------------------


def test_update_file_passes_none_then_old_text(tmp_path: Path) -> None:
    seen: list[str | None] = []

    def transform(old: str | None) -> str:
        seen.append(old)
        return (old or "") + "x"

    note = tmp_path / "note.md"
    assert update_file(note, transform) == "x"
    assert update_file(note, transform) == "xx"
    assert seen == [None, "x"]
    assert note.read_text() == "xx"


def test_update_file_rejects_undecodable_text(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_bytes(b"\xff\xfe bad")
    with pytest.raises(WriteError, match="utf-8") as info:
        update_file(note, lambda old: "never")
    assert str(note) in str(info.value)
    assert note.read_bytes() == b"\xff\xfe bad"


@pytest.mark.parametrize(
    ("before", "added", "after"),
    [
        (None, "a\n", "a\n"),
        ("", "a", "a"),
        ("x\n", "y\n", "x\ny\n"),
        ("x", "y\n", "x\ny\n"),
    ],
)
def test_append_text_starts_on_a_new_line(
    tmp_path: Path, before: str | None, added: str, after: str
) -> None:
    note = tmp_path / "note.md"
    if before is not None:
        note.write_text(before)
    append_text(note, added)
    assert note.read_text() == after


# --- errors -------------------------------------------------------------------------------


def fail_with(code: int):
    def raiser(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    return raiser


@pytest.mark.parametrize(
    ("function", "code", "words"),
    [
        ("fsync", errno.ENOSPC, "disk"),
        ("replace", errno.ENOSPC, "disk"),
        ("replace", errno.EDQUOT, "disk quota"),
        ("replace", errno.EROFS, "read-only"),
        ("replace", errno.EACCES, "permission denied"),
    ],
)
def test_failed_write_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, function: str, code: int, words: str
) -> None:
    note = tmp_path / "note.md"
    note.write_text("old")
    monkeypatch.setattr(os, function, fail_with(code))
    with pytest.raises(WriteError) as info:
        atomic_write(note, "new" * 1000)
    message = str(info.value)
    assert str(note) in message
    assert words in message
    assert note.read_text() == "old"
    assert temp_files(tmp_path) == []


def test_append_on_full_disk_keeps_old_file(tmp_path: Path, monkeypatch) -> None:
    note = tmp_path / "note.md"
    note.write_text("old\n")
    monkeypatch.setattr(os, "fsync", fail_with(errno.ENOSPC))
    with pytest.raises(WriteError, match="disk"):
        append_text(note, "new\n")
    assert note.read_text() == "old\n"
    assert temp_files(tmp_path) == []


def test_permission_denied_on_temp_file_is_explained(tmp_path: Path, monkeypatch) -> None:
    # Tests may run as root, where chmod does not stop writes; this simulates the denial.
    note = tmp_path / "note.md"
    note.write_text("old")
    monkeypatch.setattr(tempfile, "mkstemp", fail_with(errno.EACCES))
    with pytest.raises(WriteError, match="permission denied; make the folder writable"):
        atomic_write(note, "new")
    assert note.read_text() == "old"


UNWRITABLE_CHILD = """
import sys
from butler_ls.util.errors import WriteError
from butler_ls.util.safe_write import atomic_write
try:
    atomic_write(sys.argv[1], "new")
except WriteError as exc:
    print(exc)
"""


def test_unwritable_folder_is_explained(tmp_path: Path) -> None:
    # In a child for whom file modes hold (as root too: see run_unprivileged).
    folder = tmp_path / "locked"
    folder.mkdir()
    note = folder / "note.md"
    note.write_text("old")
    folder.chmod(0o500)
    try:
        done = run_unprivileged(UNWRITABLE_CHILD, str(note))
    finally:
        folder.chmod(0o700)
    assert done.returncode == 0, done.stderr
    assert "permission denied" in done.stdout
    assert str(note) in done.stdout
    assert note.read_text() == "old"


def test_target_that_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    with pytest.raises(WriteError, match="it is a folder") as info:
        atomic_write(folder, "text")
    assert str(folder) in str(info.value)
    assert folder.is_dir()
    assert temp_files(tmp_path) == []
    with pytest.raises(WriteError, match="it is a folder"):
        append_text(folder, "text")


@pytest.mark.parametrize("below", [Path("note.md"), Path("sub/note.md")])
def test_parent_that_is_a_file(tmp_path: Path, below: Path) -> None:
    blocker = tmp_path / "notes"
    blocker.write_text("keep")
    with pytest.raises(WriteError, match="a parent folder is a file") as info:
        atomic_write(blocker / below, "text")
    assert str(blocker / below) in str(info.value)
    assert blocker.read_text() == "keep"


# --- the lock -----------------------------------------------------------------------------


def test_lock_is_reentrant_in_one_thread(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    with file_lock(note, timeout=1), file_lock(note, timeout=1):
        atomic_write(note, "a", timeout=1)
        append_text(note, "b", timeout=1)
        update_file(note, lambda old: f"{old}!", timeout=1)
    assert note.read_text() == "a\nb!"


def test_lock_excludes_other_threads(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    errors: list[BaseException] = []

    def write() -> None:
        try:
            atomic_write(note, "from thread", timeout=0.1)
        except WriteError as exc:
            errors.append(exc)

    with file_lock(note):
        thread = threading.Thread(target=write)
        thread.start()
        thread.join()
    assert len(errors) == 1
    assert str(lock_path_for(note)) in str(errors[0])
    assert not note.exists()


def test_lock_timeout_names_path_and_lock_file(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    with filelock.FileLock(lock_path_for(note)), pytest.raises(WriteError) as info:
        file_lock(note, timeout=0.05).acquire()
    message = str(info.value)
    assert str(note) in message
    assert str(lock_path_for(note)) in message


def test_lock_held_by_another_process_times_out_then_frees_on_kill(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    holder = start_child("hold", note)
    try:
        with pytest.raises(WriteError, match="another writer holds the lock"):
            atomic_write(note, "blocked", timeout=0.2)
        with pytest.raises(WriteError), file_lock(note, timeout=0.05):
            pass
    finally:
        kill(holder)
    # The kernel drops a dead process's flock, so the lock is not stuck.
    atomic_write(note, "after", timeout=5)
    assert note.read_text() == "after"


# --- crashes and concurrency ------------------------------------------------------------


def test_kill_9_during_atomic_write_leaves_one_whole_version(tmp_path: Path) -> None:
    size = 2_000_000
    note = tmp_path / "note.md"
    atomic_write(note, "0" * size)
    rng = random.Random(20240611)
    for _ in range(20):
        writer = start_child("write", note, size)
        threading.Event().wait(rng.uniform(0.0, 0.08))
        kill(writer)
        data = note.read_bytes()
        assert len(data) == size
        assert data == data[:1] * size
        atomic_write(note, "0" * size, timeout=5)
        assert temp_files(tmp_path) == []


def test_kill_9_during_append_leaves_only_whole_lines(tmp_path: Path) -> None:
    width = 65_536
    note = tmp_path / "note.md"
    rng = random.Random(7)
    for _ in range(10):
        atomic_write(note, "")
        writer = start_child("append-forever", note, width)
        threading.Event().wait(rng.uniform(0.0, 0.08))
        kill(writer)
        text = note.read_text()
        assert text == "" or text.endswith("\n")
        for line in text.splitlines():
            assert len(line) == width
            assert line == line[0] * width
        append_text(note, "after\n", timeout=5)
        assert note.read_text().endswith("after\n")


def test_processes_appending_lose_nothing(tmp_path: Path) -> None:
    note = tmp_path / "log.md"
    children = [start_child("append", note, number) for number in range(4)]
    for child in children:
        assert child.wait(timeout=60) == 0
        assert child.stdout is not None
        child.stdout.close()
    lines = note.read_text().splitlines()
    expected = {f"child{n}-line{i}" for n in range(4) for i in range(250)}
    assert len(lines) == 1000
    assert set(lines) == expected


def test_threads_updating_lose_nothing(tmp_path: Path) -> None:
    counter = tmp_path / "counter.txt"

    def work() -> None:
        for _ in range(100):
            update_file(counter, lambda old: str(int(old or "0") + 1))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.read_text() == "800"


def test_lock_objects_are_shared_per_file(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    first = file_lock(note)
    assert file_lock(tmp_path / "." / "note.md") is first
    assert file_lock(tmp_path / "other.md") is not first
    assert isinstance(first, filelock.BaseFileLock)
    assert safe_write._locks  # kept while someone holds a reference
