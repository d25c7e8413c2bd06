"""Crash-safe file writes: atomic replacement and appends under an OS file lock.

A reader never sees a torn file, and two processes or threads never lose each other's writes.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import filelock

from butler_ls.util.errors import WriteError
from butler_ls.util.paths import user_umask

StrPath = str | os.PathLike[str]

_EXPLAIN: dict[int, tuple[str, str]] = {
    errno.EACCES: ("permission denied", "make the folder writable or choose another folder"),
    errno.EPERM: ("permission denied", "make the folder writable or choose another folder"),
    errno.ENOSPC: ("no space left on the disk", "free some disk space and try again"),
    errno.EDQUOT: ("disk quota exceeded", "free some disk space or raise the quota"),
    errno.EROFS: ("the disk is read-only", "choose a folder on a writable disk"),
    errno.EISDIR: ("it is a folder, not a file", "choose a file name instead of a folder"),
    errno.ENOTDIR: ("a parent folder is a file", "rename that file or choose another folder"),
    # mkdir(exist_ok=True) answers EEXIST only when a parent is a plain file.
    errno.EEXIST: ("a parent folder is a file", "rename that file or choose another folder"),
}


class _WriteLock(filelock.FileLock):
    """A FileLock whose failures are WriteErrors that name the guarded file."""

    target: Path

    def acquire(self, *args, **kwargs):
        """Acquire the lock; a timeout or an OS error becomes a WriteError."""
        with _as_write_error(self.target):
            return super().acquire(*args, **kwargs)


# One lock object per file and process: FileLock objects are reentrant per object and per
# thread (thread_local=True), while each thread holds its own flock, so threads still exclude
# each other. Weak values, so files written once do not pile up here.
_locks: weakref.WeakValueDictionary[str, _WriteLock] = weakref.WeakValueDictionary()
_locks_guard = threading.Lock()


def _reset_after_fork() -> None:
    # A forked child must not reuse the parent's lock objects, nor a guard another thread held.
    global _locks, _locks_guard
    _locks = weakref.WeakValueDictionary()
    _locks_guard = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_reset_after_fork)


def lock_path_for(path: Path) -> Path:
    """Return the hidden sibling lock file that guards ``path``."""
    return path.parent / f".{path.name}.lock"


def file_lock(path: StrPath, *, timeout: float = 10.0) -> filelock.BaseFileLock:
    """Return the lock guarding ``path``, a context manager; reentrant within one thread."""
    target = _resolve(path)
    with _as_write_error(target):
        make_user_dirs(target.parent)
    key = str(lock_path_for(target))
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = _WriteLock(key, poll_interval=0.01)
            lock.target = target
    # The context is thread-local, so this sets the timeout for the calling thread only.
    lock.timeout = timeout
    return lock


def atomic_write(
    path: StrPath, data: str | bytes, *, encoding: str = "utf-8", timeout: float = 10.0
) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never a mix."""
    target = _resolve(path)
    payload = data.encode(encoding) if isinstance(data, str) else data
    with file_lock(target, timeout=timeout), _as_write_error(target):
        _replace(target, payload)


def update_file(
    path: StrPath,
    transform: Callable[[str | None], str],
    *,
    encoding: str = "utf-8",
    timeout: float = 10.0,
) -> str:
    """Rewrite ``path`` with ``transform(old_text)`` under the lock; old text is None if absent."""
    target = _resolve(path)
    with file_lock(target, timeout=timeout), _as_write_error(target):
        text = transform(target.read_text(encoding=encoding) if target.exists() else None)
        _replace(target, text.encode(encoding))
    return text


def append_text(
    path: StrPath, text: str, *, encoding: str = "utf-8", timeout: float = 10.0
) -> None:
    """Add ``text`` at the end of ``path``, on a new line if the file does not end with one."""

    def add(current: str | None) -> str:
        if not current:
            return text
        return current + text if current.endswith("\n") else f"{current}\n{text}"

    update_file(path, add, encoding=encoding, timeout=timeout)


def _resolve(path: StrPath) -> Path:
    # Follow symlinks so a linked note is updated in place instead of replaced by a copy.
    return Path(os.path.realpath(os.fspath(path)))


def _replace(target: Path, payload: bytes) -> None:
    # Called with the lock held, so any temp file of ours is a leftover from a killed writer.
    _remove_stale_temps(target)
    replace_durably(target, payload, prefix=f".{target.name}.", suffix=".tmp", keep_mode=True)


def replace_durably(
    target: Path, payload: bytes, *, prefix: str, suffix: str, keep_mode: bool
) -> None:
    """Replace ``target`` by a synced temp file in its folder, then sync the folder.

    No lock: the caller provides one, or owns the file alone. ``keep_mode`` copies the
    old file's permissions (else the new file stays 0600, as mkstemp makes it).
    """
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if keep_mode:
            _copy_mode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_folder(target.parent)


def _copy_mode(target: Path, tmp: str) -> None:
    # mkstemp creates 0600 files; a rewrite must not make a shared note private.
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~user_umask()
    os.chmod(tmp, mode)


def make_user_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents with the user's own umask: the server
    keeps its data private (umask 077), but a notes folder is the user's, like the notes."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for new in reversed(missing):
        with suppress(FileExistsError):
            new.mkdir()
            os.chmod(new, 0o777 & ~user_umask())


def _remove_stale_temps(target: Path) -> None:
    # Exactly mkstemp's eight random characters: temps of "note.md.bak" never match "note.md".
    ours = re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}\.tmp")
    with os.scandir(target.parent) as entries:
        for entry in entries:
            if ours.fullmatch(entry.name):
                with suppress(OSError):
                    os.unlink(entry.path)


def fsync_folder(folder: Path) -> None:
    """Make renames and deletions in ``folder`` durable; a file system that cannot is no failure."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def _as_write_error(target: Path) -> Iterator[None]:
    try:
        yield
    except filelock.Timeout as exc:  # a TimeoutError, so before OSError
        raise WriteError(
            f"cannot write {target}: another writer holds the lock {lock_path_for(target)}; "
            "wait for it to finish or stop the process that holds it"
        ) from exc
    except UnicodeDecodeError as exc:
        raise WriteError(
            f"cannot update {target}: it is not {exc.encoding} text; convert it or use another file"
        ) from exc
    except OSError as exc:
        fallback = (exc.strerror or str(exc), "check the path and try again")
        problem, fix = _EXPLAIN.get(exc.errno or 0, fallback)
        raise WriteError(f"cannot write {target}: {problem}; {fix}") from exc
