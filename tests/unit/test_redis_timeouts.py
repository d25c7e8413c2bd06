"""A Redis server that accepts connections but never answers must not hang Butler."""

from __future__ import annotations

import socket
import time

import pytest
import redis

from butler_ls.queue import redis_jobs


def test_a_silent_redis_times_out(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(redis_jobs, "SOCKET_SECONDS", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel accepts; nobody ever reads or writes
        port = silent.getsockname()[1]
        board = redis_jobs.RedisJobBoard(f"redis://127.0.0.1:{port}/0")
        began = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            board.workers()
        assert time.monotonic() - began < 5
