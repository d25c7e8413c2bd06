"""The ``task_queue`` plugin: background jobs for other plugins, and the worker they run in.

Provides ``queue.jobs`` (submit a job, stream its results), the worker and queue parts
of ``butler.status``, and ``butler.queue.status``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

from butler_ls import events
from butler_ls.config import to_wire
from butler_ls.plugin_api import Plugin, PluginContext
from butler_ls.queue.client import JobClient, JobError
from butler_ls.queue.jobs import Envelope, Priority, SqliteJobBoard
from butler_ls.queue.supervisor import Supervisor

logger = logging.getLogger(__name__)


ADOPT_SECONDS = 5.0


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
    try:
        os.kill(pid_number, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


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
    ) -> Any:
        """Run a job in the worker; returns its final result or raises ``Jobs.Error``."""
        return await self._plugin.client.submit(
            kind,
            payload,
            priority=priority,
            throttle=to_wire(self._plugin.ctx.settings)["throttle"],
            on_event=on_event,
        )

    def on_recovered(self, kind: str, handler: Any) -> None:
        """Receive results of ``kind`` jobs that a server which is gone submitted.

        ``handler(envelope, message)`` gets each message (started, partial, final,
        error) of such a job, in order, once; nothing else would ever apply them.
        """
        self._plugin.recovery[kind] = handler

    async def ensure_worker(self) -> None:
        """Start the worker now (for example when dictation is about to begin)."""
        await self._plugin.supervisor.ensure()


class TaskQueuePlugin(Plugin):
    """Wires the Huey app, the job board, the inbox reader and the supervisor."""

    def activate(self, ctx: PluginContext) -> None:
        """Open the queue; the worker starts on the first job (see docs/queue.md)."""
        self.ctx = ctx
        queue = ctx.settings.queue
        self.backend = queue.backend
        directory = ctx.server.paths.queue_dir
        if queue.directory:
            from pathlib import Path

            directory = Path(queue.directory).expanduser()
        self.directory = directory
        if self.backend == "redis":
            from butler_ls.queue.redis_jobs import RedisJobBoard

            self.board: Any = RedisJobBoard(queue.url or "")
        else:
            self.board = SqliteJobBoard(directory)
        self.supervisor = Supervisor(
            self.board, directory, redis_url=queue.url if self.backend == "redis" else None
        )
        self.client = JobClient(
            self.board,
            self._make_task,
            asyncio.get_running_loop(),
            before_submit=self._before_submit,
        )
        self.recovery: dict[str, Any] = {}
        self.recovered = 0
        self.client.orphan_handler = self._recovered_result
        self.client.start()
        ctx.run_task(self._adopt_orphans(), "adopt-orphans")
        self._share_settings()
        ctx.connect(events.config_changed, lambda sender, **kw: self._share_settings())
        ctx.provide("queue.jobs", Jobs(self))
        ctx.provide("status.worker", self.supervisor.status)
        ctx.provide("status.queue", self.queue_status)
        ctx.command("butler.queue.status", self.queue_status_command)

    async def _adopt_orphans(self) -> None:
        """Take over the jobs and results of servers on this machine that are gone."""
        while True:
            try:
                adopted = 0
                for owner in await asyncio.to_thread(self.board.owners):
                    if owner != self.client.owner and owner_is_gone(owner):
                        adopted += await asyncio.to_thread(
                            self.board.reassign, owner, self.client.owner
                        )
                        logger.info("took over the queue inbox of %s, which is gone", owner)
                if adopted:
                    # Their interrupted jobs need a worker to run again.
                    await self.supervisor.ensure()
            except Exception:
                logger.exception("adopting the jobs of stopped servers failed")
            await asyncio.sleep(ADOPT_SECONDS)

    async def _recovered_result(self, message: Any) -> None:
        envelope = await asyncio.to_thread(self.board.envelope, message.job_id)
        handler = self.recovery.get(envelope.kind) if envelope else None
        if handler is None:
            logger.info(
                "a %s result of an earlier session's job has no taker; dropped", message.kind
            )
            return
        if message.kind in ("final", "error"):
            self.recovered += 1
        result = handler(envelope, message)
        if asyncio.iscoroutine(result):
            await result

    def _share_settings(self) -> None:
        self.board.put_settings(self.client.owner, to_wire(self.ctx.settings)["throttle"])

    def _make_task(self) -> Any:
        from butler_ls.queue.app import make_huey
        from butler_ls.queue.tasks import register

        queue = self.ctx.settings.queue
        return register(make_huey(self.backend, directory=self.directory, url=queue.url))

    async def _before_submit(self, envelope: Envelope) -> None:
        await self.supervisor.ensure()

    async def deactivate(self) -> None:
        """Stop reading results and stop our worker (results wait for the next session)."""
        self.client.close()
        await self.supervisor.stop()
        self.board.forget_owner(self.client.owner)

    def queue_status(self) -> dict[str, Any]:
        """The queue part of ``butler.status``."""
        counts = self.board.counts()
        return {
            "backend": self.backend,
            "pending": counts.get("queued", 0),
            "running": counts.get("running", 0),
        }

    async def queue_status_command(self, _: Any) -> dict[str, Any]:
        """``butler.queue.status``: backend, pending, running, throttled?, worker."""
        answer = await asyncio.to_thread(self.queue_status)
        worker = self.supervisor.status()
        answer["worker"] = {"pid": worker.get("pid"), **worker}
        reason = self.client.throttled()
        if reason:
            answer["throttled"] = {"reason": reason}
        answer["mine"] = self.client.counts()
        answer["recovered"] = self.recovered
        return answer
