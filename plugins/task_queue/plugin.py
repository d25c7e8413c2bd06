"""The ``task_queue`` plugin: background jobs for other plugins, and the worker they run in.

Provides ``queue.jobs`` (submit a job, stream its results), the worker and queue parts
of ``butler.status``, and ``butler.queue.status``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from butler_ls import events
from butler_ls.config import to_wire
from butler_ls.plugin_api import Plugin, PluginContext
from butler_ls.queue.client import JobClient, JobError
from butler_ls.queue.jobs import Envelope, Priority, SqliteJobBoard
from butler_ls.queue.supervisor import Supervisor

logger = logging.getLogger(__name__)


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
        self.client.start()
        self._share_settings()
        ctx.connect(events.config_changed, lambda sender, **kw: self._share_settings())
        ctx.provide("queue.jobs", Jobs(self))
        ctx.provide("status.worker", self.supervisor.status)
        ctx.provide("status.queue", self.queue_status)
        ctx.command("butler.queue.status", self.queue_status_command)

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
        return answer
