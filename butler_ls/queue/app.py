"""The one Huey app shared by the server (producer) and the worker (consumer).

SQLite by default, with a wake-up pipe so an idle consumer starts a task in about a
millisecond instead of polling; Redis (``queue.backend: redis``) for remote workers.
Messages are signed JSON (``wire``), never pickles: a forged one is refused, not run.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import Huey, PriorityRedisHuey
from huey.registry import Message
from huey.serializer import Serializer
from huey.storage import SqliteStorage

from butler_ls.queue.wake import WakeChannel
from butler_ls.queue.wire import Codec, QueueKey, Rejected, RejectionLog, load_key

logger = logging.getLogger(__name__)

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


HUEY_CODEC = Codec(records={"huey.Message": Message})

OnRejected = Callable[[str, str], None]
"""``on_rejected(where, reason)``: report a refused queue message (instead of a log line)."""


class SignedJsonSerializer(Serializer):
    """Huey's messages as JSON signed with the queue key (Huey's default is a pickle)."""

    def __init__(self, key: QueueKey) -> None:
        super().__init__()
        self.key = key

    def _serialize(self, data: Any) -> bytes:
        return self.key.sign("task", data, HUEY_CODEC)

    def _deserialize(self, data: bytes) -> Any:
        return self.key.open("task", data, HUEY_CODEC)


class _RefusesForgeries:
    """Skips queue messages the key did not sign: logged at WARNING, counted, never run.

    Huey would log a traceback and back off for a second on each; a forged message must
    neither run nor slow down the real ones behind it.
    """

    serializer: SignedJsonSerializer
    storage: Any
    on_rejected: OnRejected | None = None
    rejections: RejectionLog

    def dequeue(self) -> Any:
        """The next message this key signed; refused ones are dropped on the way."""
        while True:
            data = self.storage.dequeue()
            if data is None:
                return None
            task = self._verified(data)
            if task is not None:
                return task

    def pending(self, limit: int | None = None) -> list[Any]:
        """Signed messages waiting in the queue."""
        return self._all(self.storage.enqueued_items(limit))

    def scheduled(self, limit: int | None = None) -> list[Any]:
        """Signed messages waiting for their time (retries of deferred jobs)."""
        return self._all(self.storage.scheduled_items(limit))

    def read_schedule(self, timestamp: Any = None) -> list[Any]:
        """Scheduled messages that are due (taken off the schedule)."""
        if timestamp is None:
            timestamp = self._get_timestamp()  # type: ignore[attr-defined]
        return self._all(self.storage.read_schedule(timestamp))

    def is_revoked(self, task: Any, timestamp: Any = None, peek: bool = True) -> bool:
        """Huey's revocation marks; a forged one is refused like any other message."""
        try:
            return bool(super().is_revoked(task, timestamp, peek))  # type: ignore[misc]
        except Rejected as exc:
            self._refuse(f"revocation mark of task {task.id}", str(exc))
            return False

    def _all(self, items: list[bytes]) -> list[Any]:
        tasks = (self._verified(data) for data in items)
        return [task for task in tasks if task is not None]

    def _verified(self, data: bytes) -> Any:
        try:
            return self.deserialize_task(data)  # type: ignore[attr-defined]
        except Rejected as exc:
            self._refuse(f"sha256 {hashlib.sha256(data).hexdigest()[:12]}", str(exc))
            return None

    def _refuse(self, where: str, reason: str) -> None:
        if self.on_rejected is None:
            self.rejections.refused("a queue message", where, reason)
            return
        try:
            self.on_rejected(where, reason)
        except Exception:
            logger.exception("reporting a refused queue message failed")


class SignedHuey(_RefusesForgeries, Huey):
    """The SQLite queue's Huey, with signed messages."""


class SignedRedisHuey(_RefusesForgeries, PriorityRedisHuey):
    """The Redis queue's Huey (priorities), with signed messages."""


def make_huey(
    backend: str,
    *,
    directory: Path,
    url: str | None = None,
    key: QueueKey | None = None,
    on_rejected: OnRejected | None = None,
) -> Huey:
    """The Huey app for ``queue.backend``: ``sqlite`` in ``directory`` or ``redis`` at ``url``.

    Messages are signed with ``key`` (default: the one ``load_key(directory)`` finds);
    ``on_rejected`` hears of each message that was refused.
    """
    huey = _make_huey(backend, directory=directory, url=url, key=key or load_key(directory))
    huey.on_rejected = on_rejected
    huey.rejections = RejectionLog()
    return huey


def _make_huey(backend: str, *, directory: Path, url: str | None, key: QueueKey) -> Any:
    # No result store: the job board carries results; Huey's would be one more thing to read.
    common: dict[str, Any] = {
        "serializer": SignedJsonSerializer(key),
        "results": False,
        "utc": True,
    }
    if backend == "redis":
        if not url:
            raise ValueError("queue.backend is redis but queue.url is not set")
        # The priority variant: interactive work overtakes batch work, as on SQLite.
        import redis

        from butler_ls.queue.redis_jobs import connection_timeouts

        pool = redis.ConnectionPool.from_url(url, **connection_timeouts())
        return SignedRedisHuey(QUEUE_NAME, connection_pool=pool, **common)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return SignedHuey(
        QUEUE_NAME,
        storage_class=WakingSqliteStorage,
        filename=str(directory / DB_NAME),
        wake_path=str(directory / WAKE_NAME),
        **common,
    )
