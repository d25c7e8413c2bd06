"""The one Huey app shared by the server (producer) and the worker (consumer).

SQLite by default, with a wake-up pipe so an idle consumer starts a task in about a
millisecond instead of polling; Redis (``queue.backend: redis``) for remote workers.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from huey import Huey, PriorityRedisHuey
from huey.storage import SqliteStorage

from .wake import WakeChannel

QUEUE_NAME = "butler"
DB_NAME = "queue.db"
WAKE_NAME = "queue.wake"


class WakingSqliteStorage(SqliteStorage):
    """SqliteStorage whose ``dequeue`` blocks on a wake-up pipe, like Redis' BRPOP.

    ``blocking = True`` tells Huey's worker not to sleep between empty polls: the
    wait happens here, in select(), and ends the moment a producer enqueues.
    """

    blocking = True

    def __init__(
        self,
        name: str = QUEUE_NAME,
        filename: str = DB_NAME,
        wake_path: str | None = None,
        wait_timeout: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, filename=filename, **kwargs)
        self.wake = WakeChannel(Path(wake_path or f"{filename}.wake"))
        self.wait_timeout = wait_timeout

    def _create_connection(self) -> sqlite3.Connection:
        conn = super()._create_connection()
        # WAL + NORMAL: durable across process crashes, no fsync on each enqueue.
        conn.execute("pragma synchronous=1")
        return conn

    def enqueue(self, data: bytes, priority: int | None = None) -> None:
        """Add a message and wake the consumer."""
        super().enqueue(data, priority)
        self.wake.notify()

    def dequeue(self) -> bytes | None:
        """Take the next message, waiting up to ``wait_timeout`` for one to arrive."""
        data = super().dequeue()
        if data is not None:
            return data
        self.wake.wait(self.wait_timeout)
        return super().dequeue()


def make_huey(backend: str, *, directory: Path, url: str | None = None) -> Huey:
    """The Huey app for ``queue.backend``: ``sqlite`` in ``directory`` or ``redis`` at ``url``."""
    if backend == "redis":
        if not url:
            raise ValueError("queue.backend is redis but queue.url is not set")
        # The priority variant: interactive work overtakes batch work, as on SQLite.
        import redis

        from .redis_jobs import connection_timeouts

        pool = redis.ConnectionPool.from_url(url, **connection_timeouts())
        return PriorityRedisHuey(QUEUE_NAME, connection_pool=pool, utc=True)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Huey(
        QUEUE_NAME,
        storage_class=WakingSqliteStorage,
        filename=str(directory / DB_NAME),
        wake_path=str(directory / WAKE_NAME),
        utc=True,
    )
