"""The ``task_queue`` plugin: background jobs for other plugins, and the worker they run in.

Provides ``queue.jobs`` (submit a job, stream its results), the worker and queue parts
of ``butler.status``, and ``butler.queue.status``. Board calls run on the queue's own
threads, and status waits at most ``STATUS_WAIT`` for them before it answers what it knew.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from pathlib import Path
from typing import Any

from butler_ls.plugin_api import (
    ButlerError,
    Plugin,
    PluginContext,
    events,
    pid_alive,
    redact_url,
    to_wire,
)
from butler_ls.queue.client import JobClient, JobError
from butler_ls.queue.jobs import Envelope, Priority, SqliteJobBoard
from butler_ls.queue.supervisor import BoardCalls, LastKnown, Supervisor

from .errors import describe_queue_error

logger = logging.getLogger(__name__)


ADOPT_SECONDS = 5.0
OPEN_AFTER_SECONDS = 0.5
"""The queue opens when the editor says ``initialized``, or at the latest this long after
activation: opening imports and reads on the queue's threads, which would hold up the
initialize answer (one interpreter lock)."""
STATUS_WAIT = 0.5
"""How long a status answer waits for the job board before it answers what it last knew."""
OPENING_SLOW = 2.0  # status says "opening" once opening the queue took this long
WORKERS_FRESH = 1.0  # Jobs.workers() starts a new read when its answer is older than this
CLOSE_WAIT = 5.0  # how long deactivation waits for each last word with the board


def owner_is_gone(owner: str) -> bool:
    """True for an inbox of a server on this machine whose process has ended."""
    try:
        prefix, pid, _ = owner.rsplit("-", 2)
        host = prefix.removeprefix("srv-")
        pid_number = int(pid)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False  # another machine's server (Redis): not ours to judge
    return not pid_alive(pid_number)


class Jobs:
    """The ``queue.jobs`` capability."""

    Error = JobError

    def __init__(self, plugin: TaskQueuePlugin) -> None:
        self._plugin = plugin

    async def submit(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        priority: Priority = "batch",
        on_event: Any = None,
        job_id: str | None = None,
    ) -> Any:
        """Run a job in the worker; returns its final result or raises ``Jobs.Error``."""
        if priority not in ("interactive", "batch"):
            raise ValueError(f"priority must be 'interactive' or 'batch', not {priority!r}")
        plugin = self._plugin
        await plugin.ready()
        assert plugin.client is not None
        try:
            return await plugin.client.submit(
                kind,
                payload,
                priority=priority,
                throttle=to_wire(plugin.ctx.settings)["throttle"],
                on_event=on_event,
                job_id=job_id,
            )
        except (JobError, ButlerError, asyncio.CancelledError):
            raise
        except Exception as exc:
            if "redis" in type(exc).__module__:
                raise ButlerError(describe_queue_error(exc, plugin.url)) from None
            raise

    def cancel(self, job_id: str) -> None:
        """Ask the worker to stop ``job_id``; returns at once, from the loop or any thread.

        The request goes out on the queue's own threads, so a stalled Redis holds none
        of the caller's.
        """
        plugin = self._plugin
        if plugin.board is None:
            return  # nothing was ever submitted
        plugin.calls.send(plugin.board.cancel, job_id, what=f"cancelling job {job_id}")

    def workers(self) -> dict[str, Any]:
        """Live workers and what they report (models in memory, running jobs), as last read.

        Never waits for the board: a read starts in the background when the answer is
        older than a second (the supervisor also reads every half second).
        """
        plugin = self._plugin
        if plugin.board is None or plugin.open_error:
            return {}
        seen = plugin.workers_seen
        if seen.updated is None or time.monotonic() - seen.updated > WORKERS_FRESH:
            with contextlib.suppress(RuntimeError):  # no running loop: keep the last answer
                seen.kick()
        return dict(seen.value)

    def on_recovered(self, kind: str, handler: Any) -> None:
        """Receive results of ``kind`` jobs that a server which is gone submitted.

        ``handler(envelope, message)`` gets each message (started, partial, final,
        error) of such a job, in order, once; nothing else would ever apply them.
        """
        self._plugin.recovery[kind] = handler

    async def ensure_worker(self) -> None:
        """Start the worker now (for example when dictation is about to begin)."""
        await self._plugin.ready()
        assert self._plugin.supervisor is not None
        await self._plugin.supervisor.ensure()


class TaskQueuePlugin(Plugin):
    """Wires the job board, the inbox reader, the supervisor and (on first use) Huey."""

    def activate(self, ctx: PluginContext) -> None:
        """Register at once; open the queue in the background so start-up stays fast."""
        self.ctx = ctx
        queue = ctx.settings.queue
        self.backend = queue.backend
        self.url = queue.url if self.backend == "redis" else None
        self.directory = ctx.queue_dir
        if queue.directory:
            self.directory = Path(queue.directory).expanduser()
        self.recovery: dict[str, Any] = {}
        self.recovered = 0
        self._recovered_partials: dict[str, int] = {}
        self.board: Any = None
        self.supervisor: Supervisor | None = None
        self.client: JobClient | None = None
        self.open_error: str | None = None
        self._opened = asyncio.Event()
        self._opening_since = time.monotonic()
        self._closing = False
        self._settings_wanted = False
        self._sharing: asyncio.Task[None] | None = None
        # The queue's own threads: every board call from the event loop goes through them.
        self.calls = BoardCalls()
        self.where = f"the queue at {redact_url(self.url)}" if self.url else "the queue"
        if self.backend == "sqlite":
            self.where = f"the queue in {self.directory}"
        self.workers_seen = self._last_known(lambda: self.board.workers(), {})
        # One read for both: jobs by state, and forged records the board refused.
        self.counts_seen = self._last_known(
            lambda: {**self.board.counts(), "rejected": self.board.rejected()}, {}
        )
        ctx.provide("queue.jobs", Jobs(self))
        ctx.provide("status.worker", self.worker_status)
        ctx.provide("status.queue", self.queue_status)
        ctx.command("butler.queue.status", self.queue_status_command)
        self._initialized = asyncio.Event()
        ctx.connect(events.initialized, lambda sender, **kwargs: self._initialized.set())
        ctx.run_task(self._open(), "open-queue")

    def _last_known(self, read: Any, initial: Any) -> LastKnown:
        return LastKnown(
            self.calls,
            read,
            initial,
            where=self.where,
            describe=lambda exc: describe_queue_error(exc, self.url),
        )

    async def _open(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._initialized.wait(), OPEN_AFTER_SECONDS)
        try:
            board = await self.calls.run(self._make_board)
            if self._closing:
                return  # the server stopped while the queue was opening
            self.board = board
            self.client = JobClient(
                self.board,
                self._make_task,
                asyncio.get_running_loop(),
                before_submit=self._before_submit,
                run=self.calls.run,
            )
            self.client.orphan_handler = self._recovered_result
            await self.calls.run(self._share_settings)
        except Exception as exc:
            if self._closing:
                return
            self.open_error = describe_queue_error(exc, self.url)
            logger.warning("the task queue cannot open: %s", self.open_error)
            self.ctx.show_warning(f"Butler's task queue cannot open: {self.open_error}")
            return
        finally:
            self._opened.set()
        self.supervisor = Supervisor(
            self.board,
            self.directory,
            redis_url=self.url,
            log_dir=self.ctx.log_dir,
            workers=self.workers_seen,
            plugins=to_wire(self.ctx.settings)["plugins"],
        )
        self.client.start()
        self.ctx.connect(events.config_changed, self._settings_changed)
        self.ctx.run_task(self._adopt_orphans(), "adopt-orphans")

    def _make_board(self) -> Any:
        if self.backend == "redis":
            from butler_ls.queue.redis_jobs import RedisJobBoard

            if not self.url:
                raise ButlerError(
                    "queue.backend is redis but queue.url is not set; set it to "
                    "redis://host:6379/0, or use the sqlite backend"
                )
            board: Any = RedisJobBoard(self.url, directory=self.directory)
            board.redis.ping()  # fail now, with a clear message, rather than at the first job
            return board
        return SqliteJobBoard(self.directory)

    async def ready(self) -> None:
        """Wait until the queue is open; ButlerError if it could not be."""
        await self._opened.wait()
        if self.open_error is not None:
            raise ButlerError(f"the task queue is not available: {self.open_error}")

    async def _adopt_orphans(self) -> None:
        """Take over the jobs and results of servers on this machine that are gone."""
        assert self.client is not None and self.supervisor is not None
        while True:
            try:
                adopted = 0
                for owner in await self.calls.run(self.board.owners):
                    if owner != self.client.owner and owner_is_gone(owner):
                        adopted += await self.calls.run(
                            self.board.reassign, owner, self.client.owner
                        )
                        logger.info("took over the queue inbox of %s, which is gone", owner)
                if adopted:
                    # Their interrupted jobs need a worker to run again.
                    await self.supervisor.ensure()
            except Exception as exc:
                if "redis" in type(exc).__module__ or isinstance(exc, TimeoutError):
                    # A Redis that stalls or went away: its reason is enough, not a traceback.
                    reason = describe_queue_error(exc, self.url)
                    logger.warning("adopting the jobs of stopped servers failed: %s", reason)
                else:
                    logger.exception("adopting the jobs of stopped servers failed")
            await asyncio.sleep(ADOPT_SECONDS)

    async def _recovered_result(self, message: Any) -> None:
        envelope = await self.calls.run(self.board.envelope, message.job_id)
        handler = self.recovery.get(envelope.kind) if envelope else None
        if handler is None:
            logger.info(
                "a %s result of an earlier session's job has no taker; dropped", message.kind
            )
            return
        if message.kind == "partial":
            seen = self._recovered_partials.get(message.job_id, 0)
            if message.index < seen:
                return  # a re-run repeats what was already handed over
            self._recovered_partials[message.job_id] = message.index + 1
        if message.kind in ("final", "error"):
            self.recovered += 1
            self._recovered_partials.pop(message.job_id, None)
        result = handler(envelope, message)
        if asyncio.iscoroutine(result):
            await result

    def _settings_changed(self, sender: Any, **kwargs: Any) -> None:
        # One sharing task at a time, sending the latest settings: changes made while
        # the board is stalled do not pile up calls behind it.
        self._settings_wanted = True
        if self._sharing is None or self._sharing.done():
            self._sharing = self.ctx.run_task(self._share_latest(), "share-settings")

    async def _share_latest(self) -> None:
        while self._settings_wanted:
            self._settings_wanted = False
            await self.calls.run(self._share_settings)

    def _share_settings(self) -> None:
        assert self.client is not None
        self.board.put_settings(self.client.owner, to_wire(self.ctx.settings)["throttle"])

    def _make_task(self) -> Any:
        from butler_ls.queue.app import make_huey
        from butler_ls.queue.tasks import register

        return register(make_huey(self.backend, directory=self.directory, url=self.url))

    async def _before_submit(self, envelope: Envelope) -> None:
        assert self.supervisor is not None
        await self.supervisor.ensure()

    async def deactivate(self) -> None:
        """Stop reading results and stop our worker (results wait for the next session)."""
        self._closing = True  # a queue still opening closes itself when it gets there
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._opened.wait(), CLOSE_WAIT)
        if self.client is not None:
            with contextlib.suppress(Exception):  # a stalled board: the reader is a daemon
                await asyncio.wait_for(self.calls.run(self.client.close), CLOSE_WAIT)
        if self.supervisor is not None:
            await self.supervisor.stop()
        if self.board is not None and self.client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.calls.run(self.board.forget_owner, self.client.owner), CLOSE_WAIT
                )
        self.calls.close()

    async def worker_status(self, wait: float = STATUS_WAIT) -> dict[str, Any]:
        """The worker part of ``butler.status``; waits at most ``wait`` s for the board."""
        if self.supervisor is None:
            state = "unavailable" if self.open_error else "not started"
            return {"state": state, **({"reason": self.open_error} if self.open_error else {})}
        stale = await self.workers_seen.get(wait)
        answer = self.supervisor.status()
        if stale is not None:
            # The state is what was last known; the reason says why it may be out of date.
            answer["reason"] = stale
            answer["stale"] = True
        return answer

    async def queue_status(self, wait: float = STATUS_WAIT) -> dict[str, Any]:
        """The queue part of ``butler.status``; waits at most ``wait`` s for the board."""
        answer: dict[str, Any] = {"backend": self.backend, "pending": 0, "running": 0}
        if self.open_error:
            answer["error"] = self.open_error
            return answer
        if self.board is None:
            waited = time.monotonic() - self._opening_since
            if waited > OPENING_SLOW:
                answer["state"] = "opening"
                answer["reason"] = f"{self.where} did not answer within {waited:.1f} s"
            return answer
        stale = await self.counts_seen.get(wait)
        counts = self.counts_seen.value
        answer["pending"] = counts.get("queued", 0)
        answer["running"] = counts.get("running", 0)
        if counts.get("rejected"):
            # Records that were not signed with this machine's queue key: never run.
            answer["rejected"] = counts["rejected"]
        if stale is not None:
            answer["state"] = "not answering"
            answer["reason"] = answer["error"] = stale
            answer["stale"] = True
        return answer

    async def queue_status_command(self, _: Any) -> dict[str, Any]:
        """``butler.queue.status``: backend, pending, running, throttled?, worker."""
        deadline = time.monotonic() + STATUS_WAIT
        with contextlib.suppress(TimeoutError):  # still opening: answer what is known
            await asyncio.wait_for(self._opened.wait(), STATUS_WAIT)
        wait = round(max(deadline - time.monotonic(), 0.1), 1)
        answer, worker = await asyncio.gather(self.queue_status(wait), self.worker_status(wait))
        answer["worker"] = {"pid": worker.get("pid"), **worker}
        if self.client is not None:
            reason = self.client.throttled()
            if reason:
                answer["throttled"] = {"reason": reason}
            answer["mine"] = self.client.counts()
        answer["recovered"] = self.recovered
        return answer
