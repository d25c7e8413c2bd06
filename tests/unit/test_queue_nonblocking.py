"""A job board that stops answering must not freeze the server's event loop.

Status answers from what it last knew within about half a second, board reads share
one call instead of piling up, and cancels return at once.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from butler_ls.lsp import core_commands
from butler_ls.queue import redis_jobs
from butler_ls.queue.supervisor import BoardCalls, LastKnown, Supervisor
from butler_ls.util.config import QueueSettings, Settings, parse_settings
from tests.helpers import builtin_schema, load_plugin_module

URL = "redis://butler:secret@127.0.0.1:6390/0"


class StallableBoard:
    """A job board whose every call waits while ``stalled``, like a SIGSTOPped Redis."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.go.set()
        self.calls: dict[str, int] = {}
        self.running = 0
        self.most_at_once = 0
        self.cancelled: list[str] = []
        self.pending = 2
        self._lock = threading.Lock()

    def stall(self) -> None:
        self.go.clear()

    def resume(self) -> None:
        self.go.set()

    def _enter(self, name: str) -> None:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if not self.go.wait(10):
                raise TimeoutError("Timeout reading from socket")
        finally:
            with self._lock:
                self.running -= 1

    def workers(self, max_age: float = 5.0) -> dict[str, dict[str, Any]]:
        self._enter("workers")
        # This process stands in for a worker on this machine: alive, beating now.
        info = {"pid": os.getpid(), "host": os.uname().nodename, "beat": time.time()}
        return {"w1": {**info, "models": ["tiny.en"]}}

    def counts(self) -> dict[str, int]:
        self._enter("counts")
        return {"queued": self.pending}

    def rejected(self) -> int:
        return 0  # read together with counts(), which stalls

    def cancel(self, job_id: str) -> None:
        self._enter("cancel")
        self.cancelled.append(job_id)

    def put_settings(self, owner: str, settings: dict[str, Any]) -> None:
        self._enter("put_settings")

    def owners(self) -> set[str]:
        self._enter("owners")
        return set()

    def take(self, reply_to: str) -> list[Any]:
        return []

    def wait(self, reply_to: str, timeout: float) -> bool:
        self.go.wait(timeout)
        time.sleep(min(timeout, 0.1))
        return False

    def notify(self, reply_to: str) -> None:
        pass

    def forget_owner(self, owner: str) -> None:
        pass


class LoopWatch:
    """Measures how late the event loop runs a 10 ms timer (a frozen loop shows here)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            began = time.monotonic()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.monotonic() - began - 0.01)

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def timed(awaitable: Any) -> tuple[Any, float]:
    began = time.monotonic()
    value = await awaitable
    return value, time.monotonic() - began


@pytest.fixture
def board() -> StallableBoard:
    board = StallableBoard()
    yield board
    board.resume()  # let the queue's threads end


@pytest.fixture
async def queue_plugin(tmp_path: Path, board: StallableBoard):
    """The task_queue plugin, opened on ``board`` (configured as Redis at ``URL``)."""
    module = load_plugin_module("task_queue", "plugin")
    settings = Settings(queue=QueueSettings(backend="redis", url=URL))
    provided: dict[str, Any] = {}
    tasks: list[asyncio.Task[Any]] = []
    ctx = SimpleNamespace(
        settings=settings,
        queue_dir=tmp_path / "queue",
        log_dir=tmp_path / "logs",
        show_warning=lambda message: None,
        provide=provided.__setitem__,
        command=lambda name, handler: provided.__setitem__(name, handler),
        run_task=lambda coro, name: tasks.append(asyncio.get_running_loop().create_task(coro)),
        connect=lambda signal, receiver: None,
    )
    plugin = module.TaskQueuePlugin()
    plugin._make_board = lambda: board
    plugin.activate(ctx)
    await plugin.ready()
    plugin.provided = provided
    yield plugin
    board.resume()
    await plugin.deactivate()
    for task in tasks:
        task.cancel()


async def test_status_answers_from_the_last_known_values_while_the_board_stalls(
    queue_plugin, board: StallableBoard
):
    queue = await queue_plugin.queue_status()
    assert queue == {"backend": "redis", "pending": 2, "running": 0}
    worker = await queue_plugin.worker_status()
    assert worker["pid"] == os.getpid() and "reason" not in worker

    board.stall()
    board.pending = 5  # what the board would say, had it answered
    with LoopWatch() as loop:
        queue, took = await timed(queue_plugin.queue_status())
        assert took < 0.8
        worker, took = await timed(queue_plugin.worker_status())
        assert took < 0.8
        command = queue_plugin.provided["butler.queue.status"]
        answer, took = await timed(command(None))
        assert took < 0.8
    assert loop.worst < 0.1

    assert queue["pending"] == 2  # the last answer, not a made-up zero
    assert queue["state"] == "not answering"
    assert "redis://butler:***@127.0.0.1:6390/0 did not answer within 0.5 s" in queue["reason"]
    assert "secret" not in str(queue) + str(worker) + str(answer)
    assert worker["pid"] == os.getpid() and "did not answer" in worker["reason"]
    assert answer["pending"] == 2 and answer["worker"]["pid"] == os.getpid()

    board.resume()
    for _ in range(50):  # the stuck read lands, then a fresh one answers
        queue = await queue_plugin.queue_status()
        if "state" not in queue:
            break
        await asyncio.sleep(0.05)
    assert queue == {"backend": "redis", "pending": 5, "running": 0}
    assert "reason" not in await queue_plugin.worker_status()


async def test_reads_asked_for_during_a_stall_share_one_call(queue_plugin, board):
    await queue_plugin.queue_status()
    board.stall()
    before = board.calls["counts"]
    for _ in range(6):
        await queue_plugin.queue_status()
    assert board.calls["counts"] == before + 1


async def test_cancel_returns_at_once_and_leaves_the_default_threads_free(queue_plugin, board):
    jobs = queue_plugin.provided["queue.jobs"]
    board.stall()
    began = time.monotonic()
    for index in range(40):  # more than any thread pool has threads
        jobs.cancel(f"job-{index}")
    assert time.monotonic() - began < 0.1
    # Note writes go through asyncio.to_thread: stuck board calls must not hold its threads.
    assert await asyncio.wait_for(asyncio.to_thread(lambda: "written"), 0.5) == "written"
    board.resume()
    for _ in range(100):
        if len(board.cancelled) == 40:
            break
        await asyncio.sleep(0.02)
    assert sorted(board.cancelled) == sorted(f"job-{i}" for i in range(40))


async def test_workers_never_waits_for_the_board(queue_plugin, board):
    jobs = queue_plugin.provided["queue.jobs"]
    await queue_plugin.worker_status()
    board.stall()
    began = time.monotonic()
    workers = jobs.workers()
    assert time.monotonic() - began < 0.05
    assert workers["w1"]["models"] == ["tiny.en"]  # the last answer


async def test_supervisor_checks_do_not_pile_up_behind_a_stalled_board(tmp_path: Path, board):
    calls = BoardCalls()
    workers = LastKnown(calls, board.workers, {}, where="the queue")
    supervisor = Supervisor(board, tmp_path, workers=workers)
    board.stall()
    try:
        with LoopWatch() as loop:
            await supervisor.ensure()
            await asyncio.sleep(2.0)  # four ticks
            began = time.monotonic()
            status = supervisor.status()
            took = time.monotonic() - began
        assert loop.worst < 0.1 and took < 0.05
        assert status["state"] == "not started"
        assert board.calls["workers"] == 1 and board.most_at_once == 1
        assert supervisor.process is None  # no worker started on a board that cannot answer

        board.resume()  # the board answers: this process is the live local worker
        for _ in range(100):
            if supervisor.state == "running":
                break
            await asyncio.sleep(0.02)
        assert supervisor.state == "running" and supervisor.pid() == os.getpid()
        assert supervisor.process is None
    finally:
        board.resume()
        await supervisor.stop()
        calls.close()


async def test_a_silent_redis_leaves_status_its_last_values(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(redis_jobs, "SOCKET_SECONDS", 1.0)
    calls = BoardCalls()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel accepts; nobody ever reads or writes
        port = silent.getsockname()[1]
        board = redis_jobs.RedisJobBoard(f"redis://127.0.0.1:{port}/0")
        seen = LastKnown(
            calls, board.counts, {"queued": 3}, where=f"the queue at redis://127.0.0.1:{port}/0"
        )
        with LoopWatch() as loop:
            reason, took = await timed(seen.get(0.3))
        assert took < 0.5 and loop.worst < 0.1
        assert reason == (
            f"the queue at redis://127.0.0.1:{port}/0 did not answer within 0.3 s (no answer yet)"
        )
        assert seen.value == {"queued": 3}
        with pytest.raises(Exception, match="Timeout"):
            await seen.read()  # the read in flight ends at the socket timeout
        assert "Timeout" in (seen.error or "")
    calls.close()


async def test_a_slow_status_section_does_not_hold_up_butler_status(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setattr(core_commands, "SECTION_SECONDS", 0.2)

    async def stuck() -> dict[str, Any]:
        await asyncio.sleep(30)
        return {}

    async def quick() -> dict[str, Any]:
        return {"state": "running"}

    providers = {"status.worker": quick, "status.slow": stuck, "status.queue": stuck}
    ls = SimpleNamespace(
        plugin_manager=SimpleNamespace(listing=lambda: []),
        registry=SimpleNamespace(names=lambda: sorted(providers), get=providers.get),
        settings=parse_settings({}, builtin_schema())[0],
        paths=SimpleNamespace(config_file=tmp_path, data_dir=tmp_path, log_dir=tmp_path),
    )
    answer, took = await timed(core_commands.status(ls))
    assert took < 0.5  # the two stuck sections wait side by side, not one after the other
    assert answer["worker"] == {"state": "running"}
    assert answer["slow"] == {
        "state": "error",
        "reason": "the slow section did not answer within 0.2 s",
    }
    assert answer["queue"]["state"] == "error"
    assert answer["model"]["name"] == "tiny.en"
