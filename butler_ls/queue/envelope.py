"""What travels through the queue: job envelopes and inbox results, and their signed form.

A job record holds an ``Envelope`` signed for "job", the one copy of the job (its queue
message carries the job id only); an inbox entry holds a result signed for "result"
(``wire`` does the signing); both boards, SQLite and Redis, store these.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import attrs

from butler_ls.queue.wire import QueueKey, Rejected

Priority = Literal["interactive", "batch"]
PRIORITY_VALUE = {"interactive": 100, "batch": 0}


@attrs.frozen
class Envelope:
    """Everything a worker needs to run a job; nothing refers to the submitter's disk."""

    kind: str
    """Name of the job handler in the worker (``echo``, ``sleep``, ``transcribe``...)."""

    payload: dict[str, Any]
    """Arguments of the handler; may hold bytes (audio that is on no disk yet) with the
    SQLite board; through Redis a file or bytes travel as a blob instead (client.UPLOAD)."""

    reply_to: str
    """Inbox of the submitter, where partial and final results go."""

    priority: Priority = "batch"
    """Interactive work goes first and is never deferred."""

    throttle: dict[str, Any] = attrs.field(factory=dict)
    """The submitter's ``throttle.*`` settings (camelCase), applied by the worker."""

    job_id: str = attrs.field(factory=lambda: uuid.uuid4().hex)
    """Unique id of the job."""


@attrs.frozen
class Message:
    """One result in an inbox."""

    seq: int
    """Position in the inbox; results of one job arrive in this order."""

    job_id: str
    kind: Literal["started", "partial", "final", "error", "throttled"]
    index: int
    """Ordinal of a partial within its job (a re-run repeats them; the client skips seen ones)."""

    data: Any


def open_envelope(key: QueueKey, job_id: str, blob: bytes | str | None) -> Envelope:
    """The envelope a job record holds; Rejected unless ``key`` signed it for ``job_id``."""
    fields = key.open("job", blob)
    try:
        envelope = Envelope(**fields)
    except TypeError:
        raise Rejected("not an envelope") from None
    if envelope.job_id != job_id:
        raise Rejected("recorded under another job's id")
    return envelope


def seal_result(key: QueueKey, job_id: str, kind: str, data: Any, index: int) -> bytes:
    """A signed inbox entry (any inbox: a gone server's results move to its successor)."""
    return key.sign("result", {"job_id": job_id, "kind": kind, "idx": index, "data": data})


def open_result(key: QueueKey, seq: int, blob: bytes | str | None) -> Message:
    """The result an inbox entry holds; Rejected unless ``key`` signed it."""
    body = key.open("result", blob)
    try:
        return Message(seq, str(body["job_id"]), body["kind"], int(body["idx"]), body["data"])
    except (KeyError, TypeError, ValueError):
        raise Rejected("not a result") from None
