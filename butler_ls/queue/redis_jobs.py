"""The job board on Redis, for workers on other machines (``queue.backend: redis``).

Same contract as SqliteJobBoard: jobs recorded before they are enqueued, inboxes that
keep results until acknowledged, heartbeats that tell live workers from dead ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import redis

from butler_ls.queue.envelope import Envelope, Message, open_envelope, open_result, seal_result
from butler_ls.queue.wire import QueueKey, Rejected, RejectionLog, load_key

PREFIX = "butler:"
HEARTBEAT_TTL = 5

CONNECT_SECONDS = 5.0
"""How long connecting to Redis may take before the queue reports it unreachable."""

SOCKET_SECONDS = 10.0
"""How long a Redis server may take to answer (blocking pops here wait at most 1 s)."""

BLOB_CHUNK = 1 << 20
"""Files travel to remote workers in pieces this big: memory stays flat on both sides."""

BLOB_TTL = 24 * 3600
"""An uploaded file nobody collects (its job cancelled, its server gone) expires."""


def connection_timeouts() -> dict[str, float]:
    """Socket timeouts for every Redis connection Butler opens."""
    return {"socket_connect_timeout": CONNECT_SECONDS, "socket_timeout": SOCKET_SECONDS}


class RedisJobBoard:
    """Jobs, inboxes and worker heartbeats in Redis; blocking pops wake inbox readers."""

    def __init__(
        self, url: str, *, directory: Path | None = None, key: QueueKey | None = None
    ) -> None:
        if not url:
            raise ValueError("queue.backend is redis but queue.url is not set")
        self._key = key
        self._key_directory = directory
        self.rejections = RejectionLog()
        # Without timeouts a Redis host that does not answer would hang the queue forever.
        self.redis = redis.Redis.from_url(url, **connection_timeouts())
        self._raw: dict[int, bytes] = {}

    @property
    def key(self) -> QueueKey:
        """The queue key, read (or made) on first use: ``load_key`` of the queue folder."""
        if self._key is None:
            from butler_ls.util.paths import Paths

            self._key = load_key(self._key_directory or Paths.default().queue_dir)
        return self._key

    # -- submitter side --------------------------------------------------------------

    def record(self, envelope: Envelope) -> None:
        """Make the job durable (as durable as the Redis server is) before it is enqueued."""
        now = time.time()
        with self.redis.pipeline() as pipe:
            pipe.hset(
                _job(envelope.job_id),
                mapping={
                    "reply_to": envelope.reply_to,
                    "envelope": self._seal(envelope),
                    "state": "queued",
                    "worker": "",
                    "attempts": 0,
                    "created": now,
                },
            )
            pipe.zadd(PREFIX + "jobs", {envelope.job_id: now})
            pipe.execute()

    def take(self, reply_to: str, limit: int = 100) -> list[Message]:
        """Results waiting in an inbox, oldest first (they stay until ``ack``)."""
        messages = []
        for raw in self.redis.lrange(_inbox(reply_to), 0, limit - 1):
            seq, _, blob = raw.partition(b" ")
            try:
                message = open_result(self.key, int(seq), blob)
            except (Rejected, ValueError) as exc:
                digest = hashlib.sha256(raw).hexdigest()[:12]
                self.refuse("a result", f"{_inbox(reply_to)}, sha256 {digest}", str(exc))
                self.redis.lrem(_inbox(reply_to), 1, raw)  # never applied, never in the way
                continue
            self._raw[message.seq] = raw
            messages.append(message)
        return messages

    def ack(self, reply_to: str, seqs: list[int]) -> None:
        """Forget results that were applied."""
        with self.redis.pipeline() as pipe:
            for seq in seqs:
                raw = self._raw.pop(seq, None)
                if raw is not None:
                    pipe.lrem(_inbox(reply_to), 1, raw)
            pipe.execute()

    def delivered(self, job_id: str) -> None:
        """The final result was applied: the job is over."""
        with self.redis.pipeline() as pipe:
            pipe.delete(_job(job_id), _blob(job_id))
            pipe.zrem(PREFIX + "jobs", job_id)
            pipe.execute()

    def wait(self, reply_to: str, timeout: float) -> bool:
        """Block until results may have arrived in ``reply_to`` (or the timeout)."""
        woke = self.redis.blpop([_wake(reply_to)], timeout=max(timeout, 0.01)) is not None
        if woke:
            self.redis.delete(_wake(reply_to))
        return woke

    def notify(self, reply_to: str) -> None:
        """Wake the reader of ``reply_to``."""
        self.redis.rpush(_wake(reply_to), 1)

    def forget_inbox(self, reply_to: str) -> None:
        """Remove the wake-up key of an inbox nobody will read again."""
        self.redis.delete(_wake(reply_to))

    def jobs_of(self, reply_to: str) -> list[tuple[Envelope, str]]:
        """Unfinished jobs of one submitter, with their state, oldest first."""
        return [(env, state) for env, state, _ in self._jobs() if env.reply_to == reply_to]

    def owners(self) -> set[str]:
        """Every inbox that has jobs or results waiting."""
        owners = {env.reply_to for env, _, _ in self._jobs()}
        for key in self.redis.scan_iter(match=_inbox("*")):
            owners.add(key.decode().removeprefix(_inbox("")))
        return owners

    def reassign(self, old: str, new: str) -> int:
        """Hand a gone submitter's jobs and results to ``new``; returns how many jobs."""
        count = 0
        for env, _, _ in self._jobs():
            if env.reply_to == old:
                moved = attrs.evolve(env, reply_to=new)
                self.redis.hset(
                    _job(env.job_id), mapping={"reply_to": new, "envelope": self._seal(moved)}
                )
                count += 1
        while self.redis.lmove(_inbox(old), _inbox(new), "LEFT", "RIGHT") is not None:
            pass
        self.forget_owner(old)
        self.notify(new)
        return count

    def envelope(self, job_id: str) -> Envelope | None:
        """The envelope of a recorded job."""
        raw = self.redis.hget(_job(job_id), "envelope")
        return self._open(job_id, raw) if raw else None

    def counts(self) -> dict[str, int]:
        """Jobs by state, over every submitter."""
        counts: dict[str, int] = {}
        for _, state, _ in self._jobs():
            counts[state] = counts.get(state, 0) + 1
        return counts

    def cancel(self, job_id: str) -> None:
        """Ask the worker to stop a job (checked between segments, and before it starts)."""
        self.redis.set(PREFIX + "cancel:" + job_id, 1, ex=24 * 3600)

    def is_cancelled(self, job_id: str) -> bool:
        """Whether the submitter asked to stop ``job_id``."""
        return bool(self.redis.exists(PREFIX + "cancel:" + job_id))

    def put_settings(self, owner: str, settings: dict[str, Any]) -> None:
        """The submitter's current ``throttle`` settings; queued jobs follow changes."""
        self.redis.hset(PREFIX + "settings", owner, json.dumps(settings))

    def forget_owner(self, owner: str) -> None:
        """The submitter is gone for good."""
        self.redis.hdel(PREFIX + "settings", owner)

    # -- worker side -----------------------------------------------------------------

    def settings_of(self, owner: str) -> dict[str, Any] | None:
        """The latest settings a submitter sent, if any."""
        raw = self.redis.hget(PREFIX + "settings", owner)
        return json.loads(raw) if raw else None

    def started(self, job_id: str, worker_id: str) -> bool:
        """Mark a job running on ``worker_id``; False if it is already over (skip it)."""
        key = _job(job_id)
        state = self.redis.hget(key, "state")
        if state != b"queued":
            return False  # running elsewhere, or over: a duplicate message
        with self.redis.pipeline() as pipe:
            pipe.hset(key, mapping={"state": "running", "worker": worker_id})
            pipe.hincrby(key, "attempts", 1)
            pipe.execute()
        return True

    def post(self, envelope: Envelope, kind: str, data: Any, index: int = 0) -> None:
        """Put a result in the submitter's inbox and wake its reader."""
        sealed = seal_result(self.key, envelope.job_id, kind, data, index)
        seq = self.redis.incr(PREFIX + "seq")
        # The sequence number stays outside the signature: only ordering and ack use it.
        message = b"%d %s" % (seq, sealed)
        with self.redis.pipeline() as pipe:
            pipe.rpush(_inbox(envelope.reply_to), message)
            if kind in ("final", "error"):
                pipe.hset(_job(envelope.job_id), "state", "finished")
            pipe.rpush(_wake(envelope.reply_to), 1)
            pipe.execute()

    def interrupted(self, alive_workers: set[str]) -> list[Envelope]:
        """Jobs a worker started and never finished, whose worker is gone."""
        return [
            env
            for env, state, worker in self._jobs()
            if state == "running" and worker not in alive_workers
        ]

    def queued(self, older_than: float = 0.0) -> list[Envelope]:
        """Jobs recorded as queued (for at least ``older_than`` seconds, by creation)."""
        limit = time.time() - older_than
        jobs = []
        for env, state, _ in self._jobs():
            created = self.redis.hget(_job(env.job_id), "created")
            if state == "queued" and created is not None and float(created) < limit:
                jobs.append(env)
        return jobs

    def requeued(self, job_id: str) -> None:
        """The job's message was enqueued again."""
        self.redis.hset(_job(job_id), mapping={"state": "queued", "worker": ""})

    def heartbeat(self, worker_id: str, info: dict[str, Any]) -> None:
        """Say that ``worker_id`` is alive (and what it is doing); expires by itself."""
        record = {"pid": os.getpid(), "host": os.uname().nodename, "beat": time.time(), **info}
        with self.redis.pipeline() as pipe:
            pipe.set(PREFIX + "worker:" + worker_id, json.dumps(record), ex=HEARTBEAT_TTL)
            pipe.sadd(PREFIX + "workers", worker_id)
            pipe.execute()

    def workers(self, max_age: float = 5.0) -> dict[str, dict[str, Any]]:
        """Workers that sent a heartbeat in the last ``max_age`` seconds."""
        found = {}
        for raw_id in self.redis.smembers(PREFIX + "workers"):
            worker_id = raw_id.decode()
            raw = self.redis.get(PREFIX + "worker:" + worker_id)
            if raw is None:
                self.redis.srem(PREFIX + "workers", worker_id)
                continue
            info = json.loads(raw)
            if info.get("beat", 0) > time.time() - max_age:
                found[worker_id] = info
        return found

    def forget_worker(self, worker_id: str) -> None:
        """A worker stopped cleanly."""
        self.redis.delete(PREFIX + "worker:" + worker_id)
        self.redis.srem(PREFIX + "workers", worker_id)

    # -- files for remote workers ---------------------------------------------------

    def put_blob(self, job_id: str, source: BinaryIO) -> dict[str, Any]:
        """Copy a file into Redis in 1 MB pieces; ``{size, sha256, chunks}`` for the payload."""
        key = _blob(job_id)
        digest = hashlib.sha256()
        size = chunks = 0
        self.redis.delete(key)
        try:
            while chunk := source.read(BLOB_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                chunks += 1
                # One piece per command, outside pipelines: a pipeline's error quotes its
                # commands, and these hold the user's audio.
                self.redis.rpush(key, chunk)
                if chunks == 1:
                    self.redis.expire(key, BLOB_TTL)
            self.redis.expire(key, BLOB_TTL)
        except BaseException:
            self.redis.delete(key)
            raise
        return {"size": size, "sha256": digest.hexdigest(), "chunks": chunks}

    def blob_chunks(self, job_id: str, chunks: int) -> Iterator[bytes]:
        """The pieces of a job's uploaded file, one at a time; KeyError if it is gone."""
        key = _blob(job_id)
        for index in range(chunks):
            chunk = self.redis.lindex(key, index)
            if chunk is None:
                raise KeyError(key)
            yield chunk

    def delete_blob(self, job_id: str) -> None:
        """Forget a job's uploaded file."""
        self.redis.delete(_blob(job_id))

    # -- signed records ----------------------------------------------------------------

    def refuse(self, what: str, where: str, reason: str) -> None:
        """Report a record or message that is not Butler's: logged once, counted in Redis."""
        if self.rejections.refused(what, where, reason):
            self.redis.incr(PREFIX + "rejected")

    def rejected(self) -> int:
        """How many forged, unsigned or foreign records and messages were refused."""
        return int(self.redis.get(PREFIX + "rejected") or 0)

    def close(self) -> None:
        """Close the connection pool."""
        self.redis.close()

    def _seal(self, envelope: Envelope) -> bytes:
        return self.key.sign("job", attrs.asdict(envelope))

    def _open(self, job_id: str, raw: bytes | None) -> Envelope | None:
        try:
            return open_envelope(self.key, job_id, raw)
        except Rejected as exc:
            self.refuse("a job record", _job(job_id), str(exc))
            return None

    def _jobs(self) -> list[tuple[Envelope, str, str]]:
        jobs = []
        for raw_id in self.redis.zrange(PREFIX + "jobs", 0, -1):
            job_id = raw_id.decode(errors="replace")
            fields = self.redis.hgetall(_job(job_id))
            if not fields:
                continue
            envelope = self._open(job_id, fields.get(b"envelope"))
            if envelope is None:
                continue
            state = fields.get(b"state", b"").decode(errors="replace")
            jobs.append((envelope, state, fields.get(b"worker", b"").decode(errors="replace")))
        return jobs


def _job(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def _inbox(reply_to: str) -> str:
    return f"{PREFIX}inbox:{reply_to}"


def _wake(reply_to: str) -> str:
    return f"{PREFIX}wake:{reply_to}"


def _blob(job_id: str) -> str:
    return f"{PREFIX}blob:{job_id}"
