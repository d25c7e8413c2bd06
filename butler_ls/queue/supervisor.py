"""The server's hold on the worker process: start it when needed, restart it, stop it.

One worker serves a data folder. A second server uses the first one's worker and,
if that one goes away with its server, starts its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..processes import pid_alive

logger = logging.getLogger(__name__)

BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_SECONDS = 30.0  # a worker that lived this long resets the backoff
START_TIMEOUT = 20.0


class Supervisor:
    """Launches ``butler-ls worker`` and keeps one alive while this server needs it."""

    def __init__(
        self,
        board: Any,
        directory: Path,
        *,
        redis_url: str | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.board = board
        self.directory = directory
        self.redis_url = redis_url
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.state = "not started"
        self.reason: str | None = None
        self.restarts = 0
        self._wanted = False
        self._started_at = 0.0
        self._failures = 0
        self._monitor: asyncio.Task[None] | None = None

    # -- what the plugin calls ---------------------------------------------------------

    async def ensure(self) -> None:
        """Make sure a worker serves the queue (start one if none does); idempotent."""
        self._wanted = True
        if self._monitor is None or self._monitor.done():
            self._monitor = asyncio.get_running_loop().create_task(
                self._watch(), name="worker-supervisor"
            )

    def status(self) -> dict[str, Any]:
        """``{state, pid?, owned, restarts, reason?}`` for butler.status and queue status."""
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
        """Pid of the worker serving the queue (ours or another server's)."""
        if self.process is not None and self.process.poll() is None:
            return self.process.pid
        worker = self._local_worker()
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
        self.state = "stopped"

    # -- internals ---------------------------------------------------------------------

    def _local_worker(self) -> dict[str, Any] | None:
        host = os.uname().nodename
        for info in self.board.workers(max_age=3.0).values():
            if info.get("host") == host and pid_alive(info.get("pid")):
                return info
        return None

    async def _watch(self) -> None:
        while self._wanted:
            try:
                await self._check()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("worker supervision failed")
            await asyncio.sleep(0.5)

    async def _check(self) -> None:
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                if self.state != "running" and self._local_worker():
                    self.state, self.reason = "running", None
                if time.monotonic() - self._started_at > STABLE_SECONDS:
                    self._failures = 0
                return
            self.process = None
            if code == 0 and self._local_worker() is not None:
                self.state = "running"  # it found another worker serving: use that one
                return
            self._failures += 1
            self.restarts += 1
            delay = BACKOFF[min(self._failures - 1, len(BACKOFF) - 1)]
            self.state = "restarting"
            self.reason = f"the worker exited with status {code}; restarting in {delay:g} s"
            logger.warning("%s", self.reason)
            await asyncio.sleep(delay)
        elif self._local_worker() is not None:
            self.state = "running"  # another server's worker serves us
            return
        await self._spawn()

    async def _spawn(self) -> None:
        command = [
            sys.executable,
            "-m",
            "butler_ls",
            "worker",
            "--owner-pid",
            str(os.getpid()),
            "--directory",
            str(self.directory),
        ]
        env = dict(os.environ)
        env.pop("BUTLER_QUEUE_URL", None)  # only ours counts, not one exported by the editor
        if self.redis_url:
            # Through the environment, not argv: the URL may hold a password.
            env["BUTLER_QUEUE_URL"] = self.redis_url
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
            )
        finally:
            if stderr is not subprocess.DEVNULL:
                stderr.close()
        self._started_at = time.monotonic()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return  # _check() handles the exit
            if self._local_worker() is not None:
                self.state, self.reason = "running", None
                return
            await asyncio.sleep(0.05)
        self.reason = f"the worker did not start within {START_TIMEOUT:g} s; see worker.log"
