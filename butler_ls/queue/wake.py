"""A wake-up channel between processes on one machine: a named pipe (FIFO).

Producers write one byte after they add work; a waiter blocks in select() on the
pipe instead of polling, so pickup takes about a millisecond and idling costs nothing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import stat
import threading
from pathlib import Path


class WakeChannel:
    """One FIFO in a private folder; any process may ``notify``, one process ``wait``s."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._read_fd: int | None = None
        self._lock = threading.Lock()
        self._ensure()

    def _ensure(self) -> None:
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.mkfifo(self.path, 0o600)
            return
        if not stat.S_ISFIFO(mode):
            raise RuntimeError(f"{self.path} exists and is not a FIFO; remove it")

    def notify(self) -> bool:
        """Wake the waiter, if there is one; never blocks, never raises for no reader."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno in (errno.ENXIO, errno.ENOENT):
                return False  # nobody is waiting (yet): the work is found on the next look
            raise
        try:
            os.write(fd, b"\x01")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups already
        finally:
            os.close(fd)
        return True

    def wait(self, timeout: float) -> bool:
        """Block until notified or ``timeout`` seconds pass; True when notified."""
        fd = self._reader()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return False
        try:
            while os.read(fd, 4096):
                pass
        except BlockingIOError:
            pass
        return True

    def _reader(self) -> int:
        with self._lock:
            if self._read_fd is None:
                # O_RDWR keeps a writer open on our side, so select() never sees EOF.
                self._read_fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
            return self._read_fd

    def close(self) -> None:
        """Stop waiting; the FIFO file stays for the next waiter."""
        with self._lock:
            if self._read_fd is not None:
                os.close(self._read_fd)
                self._read_fd = None
