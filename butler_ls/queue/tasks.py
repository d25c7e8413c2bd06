"""The job task that producer and consumer share, and the handlers it dispatches to.

There is one Huey task, ``butler.run_job``, whose message carries the job id only: the
worker reads the signed envelope from the job board, and its ``kind`` names the handler.
Handlers stream partial results and return the final one. Only the core's ``echo`` and
``sleep`` live here; plugins declare theirs in their manifests (plugin_jobs.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from huey import Huey
from huey.api import TaskWrapper
from huey.exceptions import RetryTask

from butler_ls.queue.jobs import PRIORITY_VALUE, Envelope, SqliteJobBoard
from butler_ls.queue.throttle import set_low_priority
from butler_ls.util.errors import ButlerError

logger = logging.getLogger(__name__)

TASK_NAME = "butler.run_job"

Handler = Callable[["JobContext", dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {}
"""The core's own kinds (health checks, tests); no plugin can take them over."""


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register one of the core's job handlers under ``kind`` (in the worker process)."""

    def register(func: Handler) -> Handler:
        HANDLERS[kind] = func
        return func

    return register


@attrs.define
class JobContext:
    """What a running handler gets: streaming, its thread budget, a cancel flag."""

    envelope: Envelope
    board: SqliteJobBoard
    threads: int = 1
    """CPU threads the handler may use (fewer under pressure, for interactive work)."""

    scratch: Path | None = None
    """Where uploaded files are put back together (default: the system's temporary folder)."""

    _index: int = 0

    def cancelled(self) -> bool:
        """Whether the submitter asked to stop this job."""
        return self.board.is_cancelled(self.envelope.job_id)

    def partial(self, data: Any) -> None:
        """Send one partial result to the submitter, now."""
        self.board.post(self.envelope, "partial", data, index=self._index)
        self._index += 1

    @contextlib.contextmanager
    def uploaded_file(self, blob: dict[str, Any]) -> Iterator[Path]:
        """The file the submitter streamed into the store, as a private temporary file.

        Its size and SHA-256 (from the signed envelope) are checked before it is used;
        the file and the store's copy are deleted when the block ends.
        """
        chunks_of = getattr(self.board, "blob_chunks", None)
        if chunks_of is None:
            raise JobFailed("this job's file was uploaded to Redis, but this worker serves SQLite")
        job_id = self.envelope.job_id
        try:
            if self.scratch is not None:
                self.scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.TemporaryDirectory(prefix="upload-", dir=self.scratch) as folder:
                path = Path(folder) / f"upload{_suffix(blob.get('name'))}"
                digest, size = hashlib.sha256(), 0
                try:
                    with open(path, "wb") as out:
                        for chunk in chunks_of(job_id, int(blob["chunks"])):
                            digest.update(chunk)
                            size += len(chunk)
                            out.write(chunk)
                except KeyError:
                    raise JobFailed(
                        "the uploaded file is gone from Redis (uploads expire after a day, "
                        "or Redis lost them); send it again"
                    ) from None
                expected = str(blob.get("sha256", ""))
                if size != blob.get("size") or not hmac.compare_digest(
                    digest.hexdigest(), expected
                ):
                    raise JobFailed(
                        "the uploaded file does not match its checksum (altered or cut short "
                        "in Redis); send it again"
                    )
                yield path
        finally:
            with contextlib.suppress(Exception):
                self.board.delete_blob(job_id)


class JobFailed(Exception):
    """A handler's error that is the job's answer (bad input), not a worker fault."""


@handler("echo")
def _echo(ctx: JobContext, payload: dict[str, Any]) -> Any:
    """Answer the payload: the cheapest job, for health checks and latency figures."""
    return {"echo": payload.get("value"), "started": time.time()}


@handler("sleep")
def _sleep(ctx: JobContext, payload: dict[str, Any]) -> Any:
    """Work for ``seconds`` in ``steps``, streaming each step: for tests of crashes."""
    steps = int(payload.get("steps", 1))
    for step in range(steps):
        time.sleep(float(payload.get("seconds", 0.1)) / max(steps, 1))
        ctx.partial({"step": step, "at": time.time()})
    nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    return {"steps": steps, "threads": ctx.threads, "nice": nice}


class Runner:
    """Runs envelopes in the worker: throttling, bookkeeping, results."""

    def __init__(
        self,
        board: SqliteJobBoard,
        worker_id: str,
        decide: Callable[[Envelope, int], Any] | None = None,
        scratch: Path | None = None,
        handlers: Mapping[str, Handler] | None = None,
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        self.board = board
        self.handlers = {**(handlers or {}), **HANDLERS}
        """Every kind this worker runs: the plugins' and the core's."""
        self.unavailable = dict(unavailable or {})
        """Kinds whose plugin could not load its handler, with the reason."""
        self.worker_id = worker_id
        self.decide = decide
        self.scratch = scratch
        self.current: dict[str, str] = {}
        self._lock = threading.Lock()
        self.last_throttle: str | None = None
        self._deferrals: dict[str, int] = {}
        self._told: dict[str, str | None] = {}
        self.old_messages = 0
        """Queue messages of an older Butler (the whole envelope in the message), refused."""

    def run_message(self, message: Any) -> None:
        """Run the job a queue message names: its envelope comes from the board, signed.

        A record that fails its signature is refused (logged once, counted) by the board;
        a job that is gone was delivered already, and its message is a duplicate.
        """
        if not isinstance(message, str):
            self._refuse_old(message)
            return
        envelope = self.board.envelope(message)
        if envelope is None:
            logger.info("job %s is not on the board (over, or its record refused)", message)
            return
        self.run(envelope)

    def _refuse_old(self, message: Any) -> None:
        """Drop a message that carries a whole envelope; the first is logged, at WARNING."""
        self.old_messages += 1
        job_id = message.get("job_id") if isinstance(message, dict) else None
        # After an upgrade the queue may hold many: one warning, the rest at DEBUG. Their
        # jobs still on the board are enqueued again, by id, when a worker starts.
        logger.log(
            logging.WARNING if self.old_messages == 1 else logging.DEBUG,
            "not running a queue message in an older Butler's format (job %s): messages "
            "carry the job id only now; a job still on the board is enqueued again by id "
            "when the worker next starts",
            str(job_id)[:40],
        )

    def run(self, envelope: Envelope) -> None:
        """Run one job to its final (or error) result; RetryTask defers throttled work."""
        threads, low_priority = 1, envelope.priority == "batch"
        if self.board.is_cancelled(envelope.job_id):
            # Also for a job that waits for the throttle: cancelling must not wait.
            self.board.post(envelope, "error", {"message": "cancelled before it started"})
            return
        if low_priority and self._batch_running():
            # One batch job at a time: the other consumer thread stays free for dictation.
            raise RetryTask("another batch job is running", delay=1.0)
        if self.decide is not None:
            # Huey resets task.retries around RetryTask, so the deferrals are counted here.
            attempt = self._deferrals.get(envelope.job_id, 0)
            decision = self.decide(envelope, attempt)
            if not decision.run:
                self.last_throttle = decision.reason
                self._deferrals[envelope.job_id] = attempt + 1
                if self._told.get(envelope.job_id) != decision.reason:
                    self._told[envelope.job_id] = decision.reason
                    self.board.post(
                        envelope,
                        "throttled",
                        {"reason": decision.reason, "retryIn": decision.retry_in},
                    )
                raise RetryTask(decision.reason, delay=decision.retry_in)
            self._deferrals.pop(envelope.job_id, None)
            self._told.pop(envelope.job_id, None)
            self.last_throttle = decision.reason
            if decision.reason:
                # Interactive work under pressure: it runs, slower; say why.
                self.board.post(envelope, "throttled", {"reason": decision.reason, "running": True})
            threads, low_priority = decision.threads, decision.low_priority
        if not self.board.started(envelope.job_id, self.worker_id):
            return  # already finished by an earlier run: never twice
        self.board.post(envelope, "started", {"worker": self.worker_id})
        func = self.handlers.get(envelope.kind)
        with self._lock:
            self.current[envelope.job_id] = envelope.priority
        try:
            if func is None:
                if envelope.kind in self.unavailable:
                    raise JobFailed(self.unavailable[envelope.kind])
                raise JobFailed(f"this worker has no handler for jobs of kind {envelope.kind!r}")
            context = JobContext(envelope, self.board, threads, self.scratch)
            if low_priority:
                result = _in_low_priority_thread(func, context, envelope.payload)
            else:
                result = func(context, envelope.payload)
        except (JobFailed, ButlerError) as exc:
            # The job's own answer (bad audio, missing model, cancelled): the worker is fine.
            self.board.post(envelope, "error", {"message": str(exc)})
        except Exception as exc:
            logger.exception("job %s (%s) failed", envelope.job_id, envelope.kind)
            self.board.post(
                envelope, "error", {"message": f"{type(exc).__name__}: {exc}", "internal": True}
            )
        else:
            try:
                self.board.post(envelope, "final", result)
            except (TypeError, ValueError) as exc:
                logger.error("job %s returned a result that is not JSON: %s", envelope.job_id, exc)
                self.board.post(
                    envelope,
                    "error",
                    {"message": f"the job's result is not JSON: {exc}", "internal": True},
                )
        finally:
            with self._lock:
                self.current.pop(envelope.job_id, None)

    def _batch_running(self) -> bool:
        with self._lock:
            return "batch" in self.current.values()


def _in_low_priority_thread(func: Handler, context: JobContext, payload: dict[str, Any]) -> Any:
    """Run ``func`` in a thread of its own at nice 10, so batch work yields the CPU.

    Linux keeps a nice value per thread, and an unprivileged process cannot raise it
    back: a fresh thread that ends with the job leaves the consumer threads untouched.
    """
    outcome: dict[str, Any] = {}

    def body() -> None:
        set_low_priority(True)
        try:
            outcome["result"] = func(context, payload)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=body, name=f"batch-{context.envelope.job_id[:8]}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def _suffix(name: Any) -> str:
    """The file's extension, if it is a plain one (decoders may go by it)."""
    suffix = Path(str(name or "")).suffix
    return suffix if 1 < len(suffix) <= 10 and suffix[1:].isalnum() else ""


def register(huey: Huey, runner: Runner | None = None) -> TaskWrapper:
    """Define ``butler.run_job`` on ``huey``; only the worker passes a ``runner``."""

    @huey.task(name=TASK_NAME)
    def run_job(job_id: str) -> None:
        if runner is None:
            raise RuntimeError("butler.run_job runs in the worker only")
        runner.run_message(job_id)

    return run_job


def enqueue(task: TaskWrapper, envelope: Envelope) -> None:
    """Send a recorded job to the worker: its id, at its priority (the board has the rest)."""
    task(envelope.job_id, priority=PRIORITY_VALUE[envelope.priority])
