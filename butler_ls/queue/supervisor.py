"""The server's hold on the worker process, and the queue's own threads for board calls.

One worker serves a data folder. A second server uses the first one's worker and,
if that one goes away with its server, starts its own. Every job-board call goes
through ``BoardCalls``: a stalled Redis holds one of the queue's threads, never the
event loop nor the threads that ``asyncio.to_thread`` shares with note writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from butler_ls.queue.board import JobBoard
from butler_ls.util import tasks
from butler_ls.util.processes import neutral_cwd, pid_alive, python_command

logger = logging.getLogger(__name__)

BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_SECONDS = 30.0  # a worker that lived this long resets the backoff
START_TIMEOUT = 20.0
CHECK_SECONDS = 0.5
LOCAL_WORKER_AGE = 3.0  # a heartbeat older than this does not count as a live local worker
BOARD_THREADS = 4


class BoardCalls:
    """Runs blocking job-board calls on a few threads of the queue's own.

    A call to a Redis server that stopped answering holds its thread for up to the
    socket timeout; on this pool it cannot starve other ``asyncio.to_thread`` users.
    """

    def __init__(self, threads: int = BOARD_THREADS) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="queue-board")

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the queue's threads; the caller's loop stays free."""
        return await self.start(fn, *args)

    def start(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Start ``fn(*args)`` on the queue's threads; the future is the running loop's."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._pool, functools.partial(fn, *args))

    def send(self, fn: Callable[..., Any], *args: Any, what: str) -> None:
        """Run ``fn(*args)`` without waiting for it (from any thread); failures are logged."""
        try:
            future = self._pool.submit(fn, *args)
        except RuntimeError:  # the pool was shut down: the queue is closing
            logger.info("the queue is closing; %s was not sent", what)
            return

        def done(future: Future[Any]) -> None:
            if not future.cancelled() and (exc := future.exception()) is not None:
                logger.warning("%s failed: %s", what, exc)

        future.add_done_callback(done)

    def close(self) -> None:
        """Drop calls not started yet; calls in flight end by themselves (socket timeout)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


class LastKnown:
    """A board read that status answers from without waiting long.

    One read at a time: callers that ask while it runs share it. ``value`` keeps the
    last answer, so a board that does not answer in time still leaves something to show.
    """

    def __init__(
        self,
        calls: BoardCalls,
        read: Callable[[], Any],
        initial: Any,
        *,
        where: str,
        describe: Callable[[BaseException], str] = str,
    ) -> None:
        self.calls = calls
        self.value = initial
        self.updated: float | None = None  # monotonic time of the last answer
        self.error: str | None = None  # why the last read failed, if it did
        self._read = read
        self._where = where
        self._describe = describe
        self._flight: asyncio.Future[Any] | None = None
        self._flight_began = 0.0

    def kick(self) -> None:
        """Start a read if none runs; returns at once (RuntimeError outside the loop)."""
        self._start()

    async def read(self) -> Any:
        """A fresh answer (or the read's exception), however long the board takes."""
        return await asyncio.shield(self._start())

    async def get(self, wait: float) -> str | None:
        """Refresh ``value``, waiting at most ``wait`` s; returns why it is stale, or None."""
        flight = self._start()
        remaining = wait - (time.monotonic() - self._flight_began)
        if remaining > 0:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(flight), remaining)
        if flight.done() and not flight.cancelled():
            return self.error
        if self.updated is None:
            since = "no answer yet"
        else:
            since = f"showing its last answer, from {time.monotonic() - self.updated:.0f} s ago"
        return f"{self._where} did not answer within {wait:g} s ({since})"

    def _start(self) -> asyncio.Future[Any]:
        if self._flight is None:
            self._flight = self.calls.start(self._read)
            self._flight_began = time.monotonic()
            self._flight.add_done_callback(self._landed)
        return self._flight

    def _landed(self, flight: asyncio.Future[Any]) -> None:
        self._flight = None
        if flight.cancelled():
            return
        exc = flight.exception()
        if exc is None:
            self.value, self.updated, self.error = flight.result(), time.monotonic(), None
        else:
            self.error = self._describe(exc)


class Supervisor:
    """Launches ``butler-ls worker`` and keeps one alive while this server needs it."""

    def __init__(
        self,
        board: JobBoard,
        directory: Path,
        *,
        redis_url: str | None = None,
        log_dir: Path | None = None,
        workers: LastKnown | None = None,
        plugins: dict[str, list[str]] | None = None,
    ) -> None:
        self.board = board
        self.directory = directory
        self.redis_url = redis_url
        self.plugins = plugins
        """The server's ``plugins.{paths, disabled}``: the worker loads the same plugins' jobs."""
        self.log_dir = log_dir
        self._own_calls: BoardCalls | None = None
        if workers is None:
            self._own_calls = BoardCalls(1)
            workers = LastKnown(self._own_calls, board.workers, {}, where="the queue")
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None
        self.state = "not started"
        self.reason: str | None = None
        self.restarts = 0
        self._wanted = False
        self._started_at = 0.0
        self._failures = 0
        self._unreachable: str | None = None
        self._monitor: asyncio.Task[None] | None = None

    # -- what the plugin calls ---------------------------------------------------------

    async def ensure(self) -> None:
        """Make sure a worker serves the queue (start one if none does); idempotent."""
        self._wanted = True
        if self._monitor is None or self._monitor.done():
            self._monitor = tasks.default_runner().spawn(self._watch(), "worker-supervisor")

    def status(self) -> dict[str, Any]:
        """``{state, pid?, owned, restarts, reason?}`` from what is known now (no board call)."""
        info: dict[str, Any] = {
            "state": self.state,
            "owned": self.process is not None,
            "restarts": self.restarts,
        }
        pid = self.pid()
        if pid:
            info["pid"] = pid
        if self.reason:
            info["reason"] = self.reason
        return info

    def pid(self) -> int | None:
        """Pid of the worker serving the queue (ours, or another server's as last read)."""
        if self.process is not None and self.process.poll() is None:
            return self.process.pid
        worker = self._local_in(self.workers.value)
        return worker["pid"] if worker else None

    async def stop(self) -> None:
        """Stop watching, and stop our own worker (another server's is left alone)."""
        self._wanted = False
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._monitor
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, 5)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        if self._own_calls is not None:
            self._own_calls.close()
        self.state = "stopped"

    # -- internals ---------------------------------------------------------------------

    @staticmethod
    def _local_in(workers: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        host = os.uname().nodename
        recent = time.time() - LOCAL_WORKER_AGE
        for info in workers.values():
            fresh = info.get("host") == host and info.get("beat", 0) > recent
            if fresh and pid_alive(info.get("pid")):
                return info
        return None

    async def _local_worker(self) -> dict[str, Any] | None:
        # Off the loop; reads asked for while one runs share it, so they never pile up.
        return self._local_in(await self.workers.read())

    async def _watch(self) -> None:
        # One check at a time: a check stuck on a stalled board makes the next ticks wait
        # (they are skipped), it does not start more checks behind it.
        while self._wanted:
            try:
                await self._check()
                if self._unreachable is not None:
                    logger.info("the queue answers again")
                    self._unreachable = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._unreachable is None:
                    logger.warning("worker supervision cannot read the queue: %s", exc)
                self._unreachable = str(exc)
            await asyncio.sleep(CHECK_SECONDS)

    async def _check(self) -> None:
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                if time.monotonic() - self._started_at > STABLE_SECONDS:
                    self._failures = 0
                # Read every tick even when ours runs: status answers from this read.
                local = await self._local_worker()
                if self.state != "running" and local:
                    self.state, self.reason = "running", None
                return
            self.process = None
            if code == 0 and await self._local_worker() is not None:
                self.state = "running"  # it found another worker serving: use that one
                return
            self._failures += 1
            self.restarts += 1
            delay = BACKOFF[min(self._failures - 1, len(BACKOFF) - 1)]
            self.state = "restarting"
            self.reason = f"the worker exited with status {code}; restarting in {delay:g} s"
            logger.warning("%s", self.reason)
            await asyncio.sleep(delay)
        elif await self._local_worker() is not None:
            self.state = "running"  # another server's worker serves us
            return
        await self._spawn()

    async def _spawn(self) -> None:
        # -P and a neutral working directory: a workspace's files never shadow Butler's.
        owner = ["--owner-pid", str(os.getpid())]
        command = python_command("butler_ls", "worker", *owner, "--directory", str(self.directory))
        env = dict(os.environ)
        env.pop("BUTLER_QUEUE_URL", None)  # only ours counts, not one exported by the editor
        if self.redis_url:
            # Through the environment, not argv: the URL may hold a password.
            env["BUTLER_QUEUE_URL"] = self.redis_url
        env.pop("BUTLER_WORKER_PLUGINS", None)
        if self.plugins is not None:
            paths = [os.path.abspath(os.path.expanduser(p)) for p in self.plugins.get("paths", [])]
            disabled = list(self.plugins.get("disabled", []))
            env["BUTLER_WORKER_PLUGINS"] = json.dumps({"paths": paths, "disabled": disabled})
        self.state = "starting"
        logger.info("starting the worker")
        # The worker logs to worker.log; its stderr keeps what dies before logging starts.
        stderr: Any = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            stderr = open(self.log_dir / "worker.stderr", "ab")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                cwd=neutral_cwd(self.directory),
            )
        finally:
            if stderr is not subprocess.DEVNULL:
                stderr.close()
        self._started_at = time.monotonic()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return  # _check() handles the exit
            if await self._local_worker() is not None:
                self.state, self.reason = "running", None
                return
            await asyncio.sleep(0.05)
        self.reason = f"the worker did not start within {START_TIMEOUT:g} s; see worker.log"
