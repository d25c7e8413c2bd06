"""The job board's contract: what SqliteJobBoard and RedisJobBoard both do, typed once.

Every user of a board (the job client, the supervisor, the worker, the task_queue
plugin) types against ``JobBoard``; tests/unit/test_queue_board.py checks both boards.
"""

from __future__ import annotations

from typing import Any, Protocol

from butler_ls.queue.envelope import Envelope, Message
from butler_ls.queue.wire import QueueKey


class JobBoard(Protocol):
    """Durable job records, result inboxes and worker heartbeats, shared by every
    process that uses one queue. Every method blocks on I/O: call it off the event loop."""

    @property
    def key(self) -> QueueKey:
        """The key that signs this queue's records."""
        ...

    # -- submitter side

    def record(self, envelope: Envelope) -> None:
        """Make the job durable before its message (its id) is enqueued: the one copy."""
        ...

    def take(self, reply_to: str, limit: int = 100) -> list[Message]:
        """Results waiting in an inbox, oldest first (they stay until ``ack``)."""
        ...

    def ack(self, reply_to: str, seqs: list[int]) -> None:
        """Forget results that were applied."""
        ...

    def delivered(self, job_id: str) -> None:
        """The final result was applied: the job is over."""
        ...

    def wait(self, reply_to: str, timeout: float) -> bool:
        """Block until results may have arrived in ``reply_to`` (or the timeout)."""
        ...

    def notify(self, reply_to: str) -> None:
        """Wake the reader of ``reply_to``."""
        ...

    def forget_inbox(self, reply_to: str) -> None:
        """Remove the wake-up channel of an inbox nobody will read again."""
        ...

    def jobs_of(self, reply_to: str) -> list[tuple[Envelope, str]]:
        """Unfinished jobs of one submitter, with their state, oldest first."""
        ...

    def owners(self) -> set[str]:
        """Every inbox that has jobs or results waiting."""
        ...

    def reassign(self, old: str, new: str) -> int:
        """Hand a gone submitter's jobs and results to ``new``; returns how many jobs."""
        ...

    def envelope(self, job_id: str) -> Envelope | None:
        """The envelope of a recorded job (what the worker runs for a queue message); None
        when it is gone or its record was refused (logged once, counted)."""
        ...

    def counts(self) -> dict[str, int]:
        """Jobs by state, over every submitter."""
        ...

    def cancel(self, job_id: str) -> None:
        """Ask the worker to stop a job."""
        ...

    def put_settings(self, owner: str, settings: dict[str, Any]) -> None:
        """The submitter's current ``throttle`` settings; queued jobs follow changes."""
        ...

    def forget_owner(self, owner: str) -> None:
        """The submitter is gone for good."""
        ...

    def rejected(self) -> int:
        """How many forged, unsigned or foreign records and messages were refused."""
        ...

    # -- worker side

    def is_cancelled(self, job_id: str) -> bool:
        """Whether the submitter asked to stop ``job_id``."""
        ...

    def settings_of(self, owner: str) -> dict[str, Any] | None:
        """The latest settings a submitter sent, if any."""
        ...

    def started(self, job_id: str, worker_id: str) -> bool:
        """Mark a queued job running; False if it is running or over already."""
        ...

    def post(self, envelope: Envelope, kind: str, data: Any, index: int = 0) -> None:
        """Put a result in the submitter's inbox and wake its reader."""
        ...

    def interrupted(self, alive_workers: set[str]) -> list[Envelope]:
        """Jobs a worker started and never finished, whose worker is gone."""
        ...

    def queued(self, older_than: float = 0.0) -> list[Envelope]:
        """Jobs recorded as queued for at least ``older_than`` seconds."""
        ...

    def requeued(self, job_id: str) -> None:
        """The job's message was enqueued again."""
        ...

    def heartbeat(self, worker_id: str, info: dict[str, Any]) -> None:
        """Say that ``worker_id`` is alive (and what it is doing)."""
        ...

    def workers(self, max_age: float = 5.0) -> dict[str, dict[str, Any]]:
        """Workers that sent a heartbeat in the last ``max_age`` seconds."""
        ...

    def forget_worker(self, worker_id: str) -> None:
        """A worker stopped cleanly."""
        ...

    def refuse(self, what: str, where: str, reason: str) -> None:
        """Report a record or message that is not Butler's: logged once, counted."""
        ...

    def close(self) -> None:
        """Release connections and wake-up channels."""
        ...
