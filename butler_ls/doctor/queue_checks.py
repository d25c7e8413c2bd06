"""The doctor's queue checks: the queue opens (SQLite folder or Redis), and a live worker
answers an ``echo`` job through the real queue, timed. The doctor never starts a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import attrs

from butler_ls.doctor.checks import Check, probe_folder
from butler_ls.lsp.core_commands import redact_url
from butler_ls.util.config import QueueSettings
from butler_ls.util.paths import Paths
from butler_ls.util.processes import pid_alive

PICKUP_TIMEOUT = 5.0
SLOW_PICKUP_MS = 1000.0
HEARTBEAT_AGE = 3.0  # as the server's supervisor: a worker that beat within 3 s is alive
NO_WORKER = "no worker is running; the server starts one on first use"


@attrs.frozen
class QueueTarget:
    """The queue the server would use, opened for the worker check."""

    backend: str
    directory: Path
    url: str | None = None
    board: Any = None
    """The job board; None for a SQLite queue that no server has used yet."""


def check_queue(queue: QueueSettings, paths: Paths) -> tuple[Check, QueueTarget | None]:
    """SQLite: the queue folder takes files and jobs.db reads. Redis: the server answers."""
    directory = Path(queue.directory).expanduser() if queue.directory else paths.queue_dir
    if queue.backend == "redis":
        return _check_redis(queue.url, directory)
    data: dict[str, Any] = {"backend": "sqlite", "directory": str(directory)}
    exists, problem = probe_folder(directory)
    if problem:
        fix = f"make {directory} a folder you can write, or set queue.directory to one"
        return Check("queue", "fail", f"queue folder {directory}: {problem}", fix, data), None
    target = QueueTarget("sqlite", directory)
    if not (directory / "jobs.db").exists():
        state = "writable" if exists else "not created yet (the server creates it)"
        return Check("queue", "ok", f"sqlite in {directory}: {state}", data=data), target
    from butler_ls.queue.jobs import SqliteJobBoard

    try:
        board = SqliteJobBoard(directory)
        counts = board.counts()
    except sqlite3.Error as exc:
        fix = (
            f"stop every butler-ls (servers and workers), then move {directory / 'jobs.db'} "
            f"aside: the next server starts a new one (jobs waiting in the old one are lost)"
        )
        detail = f"cannot use {directory / 'jobs.db'} ({exc})"
        return Check("queue", "fail", detail, fix, data), None
    return _opened(data, counts, f"sqlite in {directory}: writable"), attrs.evolve(
        target, board=board
    )


def _check_redis(url: str | None, directory: Path) -> tuple[Check, QueueTarget | None]:
    data: dict[str, Any] = {"backend": "redis", "url": redact_url(url) if url else None}
    if not url:
        detail = "queue.backend is redis but queue.url is not set"
        fix = "set queue.url to redis://host:6379/0, or use queue.backend: sqlite"
        return Check("queue", "fail", detail, fix, data), None
    shown = data["url"]
    try:
        from butler_ls.queue.redis_jobs import RedisJobBoard

        # Its client gives up on a Redis that does not answer; its key is the server's.
        board = RedisJobBoard(url, directory=directory)
        board.redis.ping()
        counts = board.counts()
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        password = _password(url)
        if password:
            reason = reason.replace(password, "***")
        fix = "start redis-server there, or fix queue.url (host, port, database, password)"
        return Check("queue", "fail", f"cannot reach Redis at {shown} ({reason})", fix, data), None
    check = _opened(data, counts, f"redis at {shown}: reachable")
    return check, QueueTarget("redis", directory, url, board)


def _opened(data: dict[str, Any], counts: dict[str, int], what: str) -> Check:
    data.update(pending=counts.get("queued", 0), running=counts.get("running", 0))
    return Check(
        "queue", "ok", f"{what}; {data['pending']} pending, {data['running']} running", data=data
    )


def _password(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None


def check_worker(target: QueueTarget | None, timeout: float = PICKUP_TIMEOUT) -> Check:
    """A worker heartbeats on the queue and starts an echo job quickly."""
    if target is None:
        fix = "fix the queue first (see the queue check)"
        return Check("worker", "warn", "cannot look for a worker: the queue is not usable", fix)
    data: dict[str, Any] = {"workers": []}
    workers = live_workers(target.board) if target.board is not None else {}
    if not workers:
        fix = (
            "nothing to do: the server starts a worker with the first job; to time one now, "
            "run `butler-ls worker` in another terminal and run the doctor again"
        )
        if target.backend == "redis":
            fix += " (on another machine: `butler-ls worker --queue redis://...`)"
        return Check("worker", "warn", NO_WORKER, fix, data)
    data["workers"] = [
        {
            "id": worker_id,
            "pid": info.get("pid"),
            "host": info.get("host"),
            "models": info.get("models") or [],
            "running": len(info.get("running") or {}),
        }
        for worker_id, info in workers.items()
    ]
    first = data["workers"][0]
    who = f"pid {first['pid']} on {first['host']}"
    if len(workers) > 1:
        who += f" and {len(workers) - 1} more"
    try:
        timing = measure_pickup(target, workers, timeout)
    except TimeoutError:
        fix = "see the worker's log (worker.log in Butler's log folder); restarting the editor "
        fix += "restarts the worker"
        detail = f"worker {who} is alive but did not start an echo job within {timeout:g} s"
        return Check("worker", "fail", detail, fix, data)
    data.update(timing)
    answered = f"answered an echo job in {timing['roundTripMs']:.1f} ms"
    if "pickupMs" in timing:
        answered = (
            f"started an echo job after {timing['pickupMs']:.1f} ms and answered in "
            f"{timing['roundTripMs']:.1f} ms"
        )
    detail = f"worker {who} {answered}"
    if timing.get("pickupMs", timing["roundTripMs"]) > SLOW_PICKUP_MS:
        fix = "the worker is busy or the machine is loaded; dictation will lag meanwhile"
        return Check("worker", "warn", detail, fix, data)
    return Check("worker", "ok", detail, data=data)


def live_workers(board: Any) -> dict[str, dict[str, Any]]:
    """Workers with a fresh heartbeat; on this machine their process must exist too."""
    host = os.uname().nodename
    return {
        worker_id: info
        for worker_id, info in board.workers(max_age=HEARTBEAT_AGE).items()
        if info.get("host") != host or pid_alive(info.get("pid"))
    }


def measure_pickup(
    target: QueueTarget, workers: dict[str, dict[str, Any]], timeout: float
) -> dict[str, float]:
    """Submit an interactive ``echo`` job as the server does; ``{pickupMs?, roundTripMs}``.

    Pickup (submit to the handler's start) is given only for a worker on this machine,
    whose clock is ours; the round trip always.
    """
    from butler_ls.queue.client import JobClient, new_owner_id

    owner, job_id = new_owner_id(), uuid.uuid4().hex
    ran_on: dict[str, Any] = {}

    from butler_ls.queue.app import make_huey
    from butler_ls.queue.tasks import register

    # Built before the clock starts: the server has its Huey ready after the first job.
    task = register(make_huey(target.backend, directory=target.directory, url=target.url))

    def on_event(message: Any) -> None:
        if message.kind == "started":
            ran_on["worker"] = (message.data or {}).get("worker")

    async def run() -> tuple[float, Any, float]:
        client = JobClient(target.board, lambda: task, asyncio.get_running_loop(), owner=owner)
        client.start()
        try:
            submitted = time.time()
            job = client.submit(
                "echo",
                {"value": "doctor"},
                priority="interactive",
                on_event=on_event,
                job_id=job_id,
            )
            result = await asyncio.wait_for(job, timeout)
            return submitted, result, time.time()
        finally:
            await asyncio.to_thread(client.close)

    try:
        submitted, result, answered = asyncio.run(run())
    except TimeoutError:
        target.board.cancel(job_id)  # the worker skips it when it gets to it
        raise
    finally:
        _forget_inbox(target, owner)
    timing = {"roundTripMs": round((answered - submitted) * 1000, 2)}
    local = workers.get(ran_on.get("worker") or "", {}).get("host") == os.uname().nodename
    if local and isinstance(result, dict) and "started" in result:
        timing["pickupMs"] = round((float(result["started"]) - submitted) * 1000, 2)
    return timing


def _forget_inbox(target: QueueTarget, owner: str) -> None:
    """Remove the wake-up channel of the doctor's inbox; no server will ever read it."""
    with contextlib.suppress(Exception):  # a leftover pipe or key costs nothing
        target.board.forget_inbox(owner)
