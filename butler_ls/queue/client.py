"""The server's side of the queue: submit jobs, receive their results in order, once.

A reader thread waits on this server's inbox and hands each result to the event loop;
a result is acknowledged only after it was applied, and a re-run's repeats are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import logging
import os
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs

from butler_ls.queue.board import JobBoard
from butler_ls.queue.jobs import Envelope, Message, Priority
from butler_ls.util import tasks

logger = logging.getLogger(__name__)

UPLOAD = "upload"
"""Payload key of audio (or any data) the worker must read, stored once: a file's path, or
bytes. With SQLite (the worker shares this machine) a file stays where it is, as ``path``,
and bytes travel in the job's record, as ``data``; through Redis either is streamed in
pieces into the store and the worker gets a ``blob``. Queue messages carry the job id only."""

EventHandler = Callable[[Message], Awaitable[None] | None]


class JobError(Exception):
    """The job ran and failed: bad input, or the worker's own error."""

    def __init__(self, message: str, internal: bool = False) -> None:
        super().__init__(message)
        self.internal = internal


@attrs.define
class Job:
    """A submitted job as the server tracks it."""

    envelope: Envelope
    future: asyncio.Future[Any]
    on_event: EventHandler | None = None
    partials_seen: int = 0
    state: str = "queued"
    throttled: str | None = None


def new_owner_id() -> str:
    """An inbox name for this server process: host, pid and a random part."""
    return f"srv-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class JobClient:
    """Submits envelopes and dispatches their results on the server's event loop."""

    def __init__(
        self,
        board: JobBoard,
        task_factory: Callable[[], Any],
        loop: asyncio.AbstractEventLoop,
        owner: str | None = None,
        before_submit: Callable[[Envelope], Awaitable[None]] | None = None,
        run: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        self.board = board
        # Blocking board calls go to the queue's own threads when it has them: a stalled
        # Redis must not hold the default executor that note writes share.
        self._run = run or asyncio.to_thread
        self._task_factory = task_factory
        self._task: Any = None
        self.loop = loop
        self.owner = owner or new_owner_id()
        self.jobs: dict[str, Job] = {}
        self.orphan_handler: EventHandler | None = None
        self._before_submit = before_submit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read_inbox, name="job-inbox", daemon=True)

    def start(self) -> None:
        """Start reading results."""
        self._thread.start()

    async def submit(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        priority: Priority = "batch",
        throttle: dict[str, Any] | None = None,
        on_event: EventHandler | None = None,
        job_id: str | None = None,
    ) -> Any:
        """Run a job in the worker and return its final result (JobError if it failed).

        A payload ``{"upload": path or bytes}`` hands the worker that file or data, once
        (see ``UPLOAD``).
        """
        envelope = Envelope(
            kind=kind,
            payload=payload,
            reply_to=self.owner,
            priority=priority,
            throttle=throttle or {},
            **({"job_id": job_id} if job_id else {}),
        )
        job = Job(envelope, self.loop.create_future(), on_event)
        self.jobs[envelope.job_id] = job
        try:
            if self._before_submit is not None:
                await self._before_submit(envelope)
            if UPLOAD in payload:
                job.envelope = envelope = await self._run(self._upload, envelope)
            try:
                # Recorded first: if anything dies from here on, the job is run again.
                await self._run(self.board.record, envelope)
                await self._run(self._enqueue, envelope)
            except BaseException:
                if "blob" in envelope.payload:
                    with contextlib.suppress(Exception):
                        await self._run(self.board.delete_blob, envelope.job_id)
                raise
            return await job.future
        finally:
            self.jobs.pop(envelope.job_id, None)

    def _upload(self, envelope: Envelope) -> Envelope:
        payload = dict(envelope.payload)
        upload = payload.pop(UPLOAD)
        put_blob = getattr(self.board, "put_blob", None)
        if isinstance(upload, bytes | bytearray | memoryview):
            if put_blob is None:
                payload["data"] = bytes(upload)  # in the job's record, and nowhere else
            else:
                payload["blob"] = {"name": None, **put_blob(envelope.job_id, io.BytesIO(upload))}
            return attrs.evolve(envelope, payload=payload)
        path = Path(upload)
        if put_blob is None:
            payload["path"] = str(path)  # the worker shares this machine's disk
        else:
            try:
                source = open(path, "rb")  # noqa: SIM115 (closed below; its errors are the job's)
            except OSError as exc:
                message = f"{path.name} cannot be read: {exc.strerror}; make it readable"
                raise JobError(message) from None
            with source:
                payload["blob"] = {"name": path.name, **put_blob(envelope.job_id, source)}
        return attrs.evolve(envelope, payload=payload)

    def _enqueue(self, envelope: Envelope) -> None:
        # Huey (and the Redis client it imports) loads on the first job, not at start-up:
        # most editor sessions never send one.
        from butler_ls.queue.tasks import enqueue

        if self._task is None:
            self._task = self._task_factory()
        enqueue(self._task, envelope)

    def counts(self) -> dict[str, int]:
        """This server's jobs by state."""
        counts: dict[str, int] = {}
        for job in self.jobs.values():
            counts[job.state] = counts.get(job.state, 0) + 1
        return counts

    def throttled(self) -> str | None:
        """The reason a job of this server waits, if one does."""
        return next((j.throttled for j in self.jobs.values() if j.throttled), None)

    def close(self) -> None:
        """Stop reading (results stay in the inbox for a later session)."""
        self._stop.set()
        with contextlib.suppress(Exception):
            self.board.notify(self.owner)
        if self._thread.is_alive():
            self._thread.join(timeout=3)

    # -- the reader thread -------------------------------------------------------------

    def _read_inbox(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                messages = self.board.take(self.owner)
                if failing:
                    logger.info("reading job results works again")
                    failing = False
                if not messages:
                    self.board.wait(self.owner, 1.0)
                    continue
                for message in messages:
                    if self._stop.is_set():
                        return
                    applied = tasks.default_runner().spawn_threadsafe(
                        self.loop, self._deliver(message), f"deliver {message.job_id}"
                    )
                    applied.result()
                    self.board.ack(self.owner, [message.seq])
                    if message.kind in ("final", "error"):
                        self.board.delivered(message.job_id)
            except Exception as exc:
                if self._stop.is_set() or self.loop.is_closed():
                    return
                # Once per outage, in one line (a stalled Redis fails every second); the
                # traceback only at DEBUG.
                if not failing:
                    logger.warning(
                        "reading job results failed (%s: %s); retrying",
                        type(exc).__name__,
                        str(exc)[:200],
                    )
                failing = True
                logger.debug("reading job results failed", exc_info=True)
                self._stop.wait(1.0)

    async def _deliver(self, message: Message) -> None:
        job = self.jobs.get(message.job_id)
        if job is None:
            if self.orphan_handler is not None:
                await _maybe_await(self.orphan_handler(message))
            else:
                logger.info(
                    "dropping a %s result of job %s, which nobody waits for",
                    message.kind,
                    message.job_id,
                )
            return
        if message.kind == "partial":
            if message.index < job.partials_seen:
                return  # a re-run repeats what was already applied
            job.partials_seen = message.index + 1
        elif message.kind == "started":
            job.state, job.throttled = "running", None
        elif message.kind == "throttled":
            job.throttled = message.data.get("reason")
            if not message.data.get("running"):
                job.state = "throttled"
        if job.on_event is not None and message.kind != "final":
            try:
                await _maybe_await(job.on_event(message))
            except Exception:
                logger.exception("a job event handler failed")
        if job.future.done():
            return
        if message.kind == "final":
            job.future.set_result(message.data)
        elif message.kind == "error":
            data = message.data or {}
            job.future.set_exception(
                JobError(str(data.get("message", "the job failed")), bool(data.get("internal")))
            )


async def _maybe_await(value: Any) -> None:
    if inspect.isawaitable(value):
        await value
