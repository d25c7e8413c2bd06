"""Durable job records and result inboxes, so no job and no result is lost or applied twice.

A job is recorded before its message is enqueued and deleted only once its final result
was delivered; a worker that starts re-runs the jobs a dead worker had started. Results
wait in the submitter's inbox until it has applied them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

# Envelope, Message and Priority are part of this module's public names.
from butler_ls.queue.envelope import (
    PRIORITY_VALUE,
    Envelope,
    Message,
    Priority,
    open_envelope,
    open_result,
    seal_result,
)
from butler_ls.queue.wake import WakeChannel
from butler_ls.queue.wire import QueueKey, Rejected, RejectionLog, load_key

__all__ = [
    "PRIORITY_VALUE",
    "Envelope",
    "Message",
    "Priority",
    "SqliteJobBoard",
    "open_envelope",
    "open_result",
    "seal_result",
]


class SqliteJobBoard:
    """Jobs and inboxes in one SQLite file (WAL) beside the queue, shared by every process
    on the machine; wake-up pipes tell an inbox's reader that results arrived."""

    def __init__(self, directory: Path, key: QueueKey | None = None) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._key = key
        self.rejections = RejectionLog()
        self.path = directory / "jobs.db"
        self._local = threading.local()
        # executescript() manages its own transaction.
        self._connection().executescript(
            """
                create table if not exists job (
                    id text primary key, reply_to text not null, envelope blob not null,
                    state text not null, worker text, attempts integer not null default 0,
                    created real not null, updated real not null);
                create table if not exists inbox (
                    seq integer primary key autoincrement, reply_to text not null,
                    job_id text not null, kind text not null, idx integer not null,
                    data text not null);
                create index if not exists inbox_reply on inbox (reply_to, seq);
                create table if not exists cancelled (id text primary key);
                create table if not exists owner_settings (
                    owner text primary key, settings text not null);
                create table if not exists worker (
                    id text primary key, pid integer, host text, beat real not null,
                    info text not null default '{}');
                create table if not exists rejected (
                    id integer primary key check (id = 0), count integer not null);
                """
        )

    @property
    def key(self) -> QueueKey:
        """The queue key, read (or made) on first use: ``load_key`` of this folder."""
        if self._key is None:
            self._key = load_key(self.directory)
        return self._key

    # -- connection ------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("pragma journal_mode=wal")
            # WAL + NORMAL: every commit survives a crash of any process at once,
            # without an fsync per commit; a power cut may lose the last moments.
            conn.execute("pragma synchronous=1")
            self._local.conn = conn
        return conn

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("begin immediate")
        try:
            yield conn
        except BaseException:
            conn.execute("rollback")
            raise
        conn.execute("commit")

    # -- submitter side --------------------------------------------------------------

    def record(self, envelope: Envelope) -> None:
        """Make the job durable before its message is enqueued."""
        now = time.time()
        with self._db() as db:
            db.execute(
                "insert or replace into job values (?, ?, ?, 'queued', null, 0, ?, ?)",
                (envelope.job_id, envelope.reply_to, self._seal(envelope), now, now),
            )

    def take(self, reply_to: str, limit: int = 100) -> list[Message]:
        """Results waiting in an inbox, oldest first (they stay until ``ack``)."""
        rows = (
            self._connection()
            .execute(
                "select seq, data from inbox where reply_to = ? order by seq limit ?",
                (reply_to, limit),
            )
            .fetchall()
        )
        messages, refused = [], []
        for seq, blob in rows:
            try:
                messages.append(open_result(self.key, seq, blob))
            except Rejected as exc:
                self.refuse("a result", f"inbox {reply_to}, #{seq}", str(exc))
                refused.append(seq)
        self.ack(reply_to, refused)  # never applied, and never in the way again
        return messages

    def ack(self, reply_to: str, seqs: list[int]) -> None:
        """Forget results that were applied."""
        if seqs:
            with self._db() as db:
                db.executemany(
                    "delete from inbox where reply_to = ? and seq = ?",
                    [(reply_to, s) for s in seqs],
                )

    def delivered(self, job_id: str) -> None:
        """The final result was applied: the job is over."""
        with self._db() as db:
            db.execute("delete from job where id = ?", (job_id,))
            db.execute("delete from cancelled where id = ?", (job_id,))

    def wait(self, reply_to: str, timeout: float) -> bool:
        """Block until results may have arrived in ``reply_to`` (or the timeout)."""
        return self._wake(reply_to).wait(timeout)

    def notify(self, reply_to: str) -> None:
        """Wake the reader of ``reply_to``."""
        self._wake(reply_to).notify()

    def forget_inbox(self, reply_to: str) -> None:
        """Remove the wake-up channel of an inbox nobody will read again."""
        channel = self.__dict__.get("_channels", {}).pop(reply_to, None)
        if channel is not None:
            channel.close()
        (self.directory / f"inbox-{_safe(reply_to)}.wake").unlink(missing_ok=True)

    def jobs_of(self, reply_to: str) -> list[tuple[Envelope, str]]:
        """Unfinished jobs of one submitter, with their state, oldest first."""
        rows = (
            self._connection()
            .execute(
                "select id, envelope, state from job where reply_to = ? order by created",
                (reply_to,),
            )
            .fetchall()
        )
        jobs = [(self._open(job_id, blob), state) for job_id, blob, state in rows]
        return [(envelope, state) for envelope, state in jobs if envelope is not None]

    def owners(self) -> set[str]:
        """Every inbox that has jobs or results waiting."""
        rows = self._connection().execute(
            "select reply_to from job union select reply_to from inbox"
        )
        return {owner for (owner,) in rows.fetchall()}

    def reassign(self, old: str, new: str) -> int:
        """Hand a gone submitter's jobs and results to ``new``; returns how many jobs."""
        with self._db() as db:
            rows = db.execute("select id, envelope from job where reply_to = ?", (old,)).fetchall()
            for job_id, blob in rows:
                envelope = self._open(job_id, blob)
                if envelope is None:
                    continue  # refused: it stays where it was, unread
                db.execute(
                    "update job set reply_to = ?, envelope = ? where id = ?",
                    (new, self._seal(attrs.evolve(envelope, reply_to=new)), job_id),
                )
            db.execute("update inbox set reply_to = ? where reply_to = ?", (new, old))
            db.execute("delete from owner_settings where owner = ?", (old,))
            # Finished jobs whose results were all applied: only the clean-up was missed.
            db.execute(
                "delete from job where reply_to = ? and state = 'finished' and id not in "
                "(select job_id from inbox where reply_to = ?)",
                (new, new),
            )
        self.forget_inbox(old)
        self.notify(new)
        return len(rows)

    def envelope(self, job_id: str) -> Envelope | None:
        """The envelope of a recorded job."""
        row = (
            self._connection().execute("select envelope from job where id = ?", (job_id,))
        ).fetchone()
        return self._open(job_id, row[0]) if row else None

    def counts(self) -> dict[str, int]:
        """Jobs by state, over every submitter."""
        rows = self._connection().execute("select state, count(*) from job group by state")
        return dict(rows.fetchall())

    def cancel(self, job_id: str) -> None:
        """Ask the worker to stop a job (checked between segments, and before it starts)."""
        with self._db() as db:
            db.execute("insert or ignore into cancelled values (?)", (job_id,))

    def is_cancelled(self, job_id: str) -> bool:
        """Whether the submitter asked to stop ``job_id``."""
        row = self._connection().execute("select 1 from cancelled where id = ?", (job_id,))
        return row.fetchone() is not None

    def put_settings(self, owner: str, settings: dict[str, Any]) -> None:
        """The submitter's current ``throttle`` settings; queued jobs follow changes."""
        with self._db() as db:
            db.execute(
                "insert or replace into owner_settings values (?, ?)",
                (owner, json.dumps(settings)),
            )

    def forget_owner(self, owner: str) -> None:
        """The submitter is gone for good (its settings no longer apply)."""
        with self._db() as db:
            db.execute("delete from owner_settings where owner = ?", (owner,))

    # -- worker side -----------------------------------------------------------------

    def settings_of(self, owner: str) -> dict[str, Any] | None:
        """The latest settings a submitter sent, if any."""
        row = (
            self._connection()
            .execute("select settings from owner_settings where owner = ?", (owner,))
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def started(self, job_id: str, worker_id: str) -> bool:
        """Mark a queued job running on ``worker_id``; False if it is running or over already
        (a duplicate message, a re-run that lost the race): skip it then."""
        with self._db() as db:
            cursor = db.execute(
                "update job set state = 'running', worker = ?, attempts = attempts + 1, "
                "updated = ? where id = ? and state = 'queued'",
                (worker_id, time.time(), job_id),
            )
            return cursor.rowcount == 1

    def post(self, envelope: Envelope, kind: str, data: Any, index: int = 0) -> None:
        """Put a result in the submitter's inbox and wake its reader."""
        with self._db() as db:
            db.execute(
                "insert into inbox (reply_to, job_id, kind, idx, data) values (?, ?, ?, ?, ?)",
                (
                    envelope.reply_to,
                    envelope.job_id,
                    kind,
                    index,
                    seal_result(self.key, envelope.job_id, kind, data, index),
                ),
            )
            if kind in ("final", "error"):
                db.execute(
                    "update job set state = 'finished', updated = ? where id = ?",
                    (time.time(), envelope.job_id),
                )
        self._wake(envelope.reply_to).notify()

    def interrupted(self, alive_workers: set[str]) -> list[Envelope]:
        """Jobs a worker started and never finished, whose worker is gone."""
        rows = (
            self._connection()
            .execute(
                "select id, envelope, worker from job where state = 'running' order by created"
            )
            .fetchall()
        )
        jobs = [
            self._open(job_id, blob) for job_id, blob, worker in rows if worker not in alive_workers
        ]
        return [envelope for envelope in jobs if envelope is not None]

    def queued(self, older_than: float = 0.0) -> list[Envelope]:
        """Jobs recorded as queued for at least ``older_than`` seconds."""
        rows = self._connection().execute(
            "select id, envelope from job where state = 'queued' and updated < ? order by created",
            (time.time() - older_than,),
        )
        jobs = [self._open(job_id, blob) for job_id, blob in rows.fetchall()]
        return [envelope for envelope in jobs if envelope is not None]

    def requeued(self, job_id: str) -> None:
        """The job's message was enqueued again."""
        with self._db() as db:
            db.execute(
                "update job set state = 'queued', worker = null, updated = ? where id = ?",
                (time.time(), job_id),
            )

    def heartbeat(self, worker_id: str, info: dict[str, Any]) -> None:
        """Say that ``worker_id`` is alive (and what it is doing)."""
        with self._db() as db:
            db.execute(
                "insert or replace into worker values (?, ?, ?, ?, ?)",
                (worker_id, os.getpid(), os.uname().nodename, time.time(), json.dumps(info)),
            )

    def workers(self, max_age: float = 5.0) -> dict[str, dict[str, Any]]:
        """Workers that sent a heartbeat in the last ``max_age`` seconds."""
        rows = self._connection().execute(
            "select id, pid, host, beat, info from worker where beat > ?",
            (time.time() - max_age,),
        )
        return {
            wid: {"pid": pid, "host": host, "beat": beat, **json.loads(info)}
            for wid, pid, host, beat, info in rows.fetchall()
        }

    def forget_worker(self, worker_id: str) -> None:
        """A worker stopped cleanly."""
        with self._db() as db:
            db.execute("delete from worker where id = ?", (worker_id,))

    # -- signed records ----------------------------------------------------------------

    def _seal(self, envelope: Envelope) -> bytes:
        return self.key.sign("job", attrs.asdict(envelope))

    def _open(self, job_id: str, blob: bytes) -> Envelope | None:
        """The envelope of a job record, or None (logged, counted) if this key did not sign it."""
        try:
            return open_envelope(self.key, job_id, blob)
        except Rejected as exc:
            self.refuse("a job record", job_id, str(exc))
            return None

    def refuse(self, what: str, where: str, reason: str) -> None:
        """Report a record or message that is not Butler's: logged once, counted in the store."""
        if self.rejections.refused(what, where, reason):
            with self._db() as db:
                db.execute(
                    "insert into rejected values (0, 1) "
                    "on conflict (id) do update set count = count + 1"
                )

    def rejected(self) -> int:
        """How many forged, unsigned or foreign records and messages were refused."""
        row = self._connection().execute("select count from rejected").fetchone()
        return int(row[0]) if row else 0

    def _wake(self, reply_to: str) -> WakeChannel:
        channels = self.__dict__.setdefault("_channels", {})
        if reply_to not in channels:
            channels[reply_to] = WakeChannel(self.directory / f"inbox-{_safe(reply_to)}.wake")
        return channels[reply_to]

    def close(self) -> None:
        """Close this thread's connection and the wake-up pipes."""
        for channel in self.__dict__.get("_channels", {}).values():
            channel.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _safe(name: str) -> str:
    return "".join(c for c in name if c.isalnum() or c in "-_")[:64]
