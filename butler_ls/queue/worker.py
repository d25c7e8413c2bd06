"""``butler-ls worker``: the Huey consumer that runs Butler's heavy jobs, on its main thread.

One worker serves a data folder (a file lock says which); it exits by itself when the
server that started it dies, and on start re-runs the jobs a dead worker left unfinished.
The job handlers come from the plugins' manifests (``jobs:``), found as the server finds them.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import attrs
import filelock

from butler_ls.util.config import PluginsSettings, load_settings_file, parse_settings
from butler_ls.util.log import setup_logging
from butler_ls.util.paths import Paths

logger = logging.getLogger("butler_ls.queue.worker")

LOCK_NAME = "worker.lock"
HEARTBEAT_SECONDS = 1.0
# One thread runs batch work, the other stays free so dictation never queues behind it.
CONSUMER_THREADS = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``butler-ls worker``."""
    parser.add_argument(
        "--queue",
        metavar="URL",
        help="redis://host:port/db to serve a Redis queue (default: the settings' queue.*)",
    )
    parser.add_argument("--directory", help="folder of the SQLite queue (queue.directory)")
    parser.add_argument(
        "--key-file",
        metavar="FILE",
        help="the queue key shared with the editor's machine (its queue.key); default: "
        "BUTLER_QUEUE_KEY, BUTLER_QUEUE_KEY_FILE, else queue.key in the queue folder",
    )
    parser.add_argument(
        "--owner-pid",
        type=int,
        help="exit when this process (the server that started the worker) is gone",
    )
    parser.add_argument(
        "--log-level", default="INFO", type=str.upper, choices=["DEBUG", "INFO", "WARNING"]
    )


def main(args: argparse.Namespace) -> int:
    """Run the consumer until stopped; 0 also when another worker already serves."""
    # Nothing is downloaded at run time: faster-whisper must not reach for the Hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    paths = Paths.default()
    paths.ensure()
    setup_logging(paths.log_dir, args.log_level, file_name="worker.log")
    settings, problems = parse_settings(load_settings_file(paths.config_file)[0])
    for problem in problems:
        logger.warning("settings: %s", problem)
    backend, url = settings.queue.backend, settings.queue.url
    # The server passes the URL in the environment: it may hold a password.
    queue_url = args.queue or os.environ.get("BUTLER_QUEUE_URL")
    if queue_url:
        if not queue_url.startswith(("redis://", "rediss://", "unix://")):
            print(
                f"butler-ls worker: --queue {queue_url!r} is not a Redis URL; "
                f"use redis://host:6379/0",
                file=sys.stderr,
            )
            return 2
        backend, url = "redis", queue_url
    plugins = _plugin_settings(settings.plugins)
    directory = Path(args.directory or settings.queue.directory or paths.queue_dir).expanduser()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    from butler_ls.queue.wire import KeyProblem, load_key

    try:
        key = load_key(directory, key_file=Path(args.key_file) if args.key_file else None)
    except (KeyProblem, OSError) as exc:
        print(f"butler-ls worker: {exc}", file=sys.stderr)
        return 2

    lock = filelock.FileLock(str(directory / LOCK_NAME), thread_local=False)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        print(f"butler-ls worker: another worker already serves {directory}", file=sys.stderr)
        return 0
    if args.owner_pid:
        _die_with(args.owner_pid)
    try:
        return _serve(backend, url, directory, key, _load_jobs(paths, plugins))
    finally:
        lock.release()


def _plugin_settings(from_file: PluginsSettings) -> PluginsSettings:
    """``plugins.*`` as the server that started us has them, else from config.yaml."""
    from butler_ls.queue.plugin_jobs import ENV_PLUGINS

    text = os.environ.get(ENV_PLUGINS)
    if not text:
        return from_file  # started by hand: the settings file is all there is
    try:
        settings, problems = parse_settings({"plugins": json.loads(text)})
    except ValueError as exc:
        logger.warning("%s is not JSON (%s); using the settings file's plugins.*", ENV_PLUGINS, exc)
        return from_file
    for problem in problems:
        logger.warning("%s: %s", ENV_PLUGINS, problem)
    return settings.plugins


def _load_jobs(paths: Paths, plugins: PluginsSettings) -> Any:
    from butler_ls.queue.plugin_jobs import load_plugin_jobs
    from butler_ls.queue.tasks import HANDLERS

    return load_plugin_jobs(
        paths.user_plugins_dir, plugins.paths, plugins.disabled, reserved=HANDLERS
    )


def _serve(backend: str, url: str | None, directory: Path, key: Any, jobs: Any) -> int:
    from butler_ls.queue import throttle
    from butler_ls.queue.app import make_huey
    from butler_ls.queue.jobs import Envelope
    from butler_ls.queue.tasks import Runner, enqueue, register

    board = _board(backend, url, directory, key)

    def refused(where: str, reason: str) -> None:
        board.refuse("a queue message", where, reason)

    huey = make_huey(backend, directory=directory, url=url, key=key, on_rejected=refused)
    worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    sampler = throttle.Sampler()

    load = LoadMonitor()

    def readings() -> Any:
        # The machine's load over the last second or so, without the worker's own: a
        # job that just used every core must not make the next one wait or shrink.
        return attrs.evolve(sampler.read(), cpu_percent=load.others())

    def decide(envelope: Envelope, attempt: int) -> Any:
        # The submitter's current settings win over the snapshot in the envelope, so a
        # deferred job follows the user's changes while it waits.
        current = board.settings_of(envelope.reply_to) or envelope.throttle
        settings, _ = parse_settings({"throttle": current})
        return throttle.decide(envelope.priority, readings(), settings.throttle, attempt=attempt)

    runner = Runner(
        board,
        worker_id,
        decide=decide,
        scratch=directory / "uploads",
        handlers=jobs.handlers,
        unavailable=jobs.unavailable,
    )
    task = register(huey, runner)
    (directory / "worker.pid").write_text(f"{os.getpid()}\n")

    for envelope in board.interrupted(_other_live_workers(board, backend)):
        logger.info(
            "re-running job %s (%s) that a stopped worker left unfinished",
            envelope.job_id,
            envelope.kind,
        )
        board.requeued(envelope.job_id)
        enqueue(task, envelope)

    _requeue_lost(huey, board, task)
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat,
        args=(board, worker_id, runner, stop, load, jobs),
        daemon=True,
        name="heartbeat",
    )
    beat.start()
    consumer = huey.create_consumer(
        workers=CONSUMER_THREADS,
        periodic=False,
        initial_delay=0.05,
        max_delay=1.0,
        check_worker_health=True,
    )
    logger.info(
        "worker %s serving the %s queue (queue key %s from %s)",
        worker_id,
        backend,
        key.key_id,
        key.source,
    )
    try:
        consumer.run()
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            board.forget_worker(worker_id)
        (directory / "worker.pid").unlink(missing_ok=True)
    return 0


def _board(backend: str, url: str | None, directory: Path, key: Any) -> Any:
    if backend == "redis":
        from butler_ls.queue.redis_jobs import RedisJobBoard

        return RedisJobBoard(url or "", key=key)
    from butler_ls.queue.jobs import SqliteJobBoard

    return SqliteJobBoard(directory, key=key)


def _requeue_lost(huey: Any, board: Any, task: Any) -> None:
    """Enqueue again the recorded jobs whose message is gone (a crash between the
    server's record and enqueue, or between a worker's dequeue and start)."""
    from butler_ls.queue.tasks import enqueue

    present = set()
    for item in list(huey.pending()) + list(huey.scheduled()):
        job_id = item.args[0] if item.args else None
        # A message of an older Butler (a whole envelope) is never run: not present.
        if isinstance(job_id, str):
            present.add(job_id)
    for envelope in board.queued(older_than=5.0):
        if envelope.job_id not in present:
            logger.info("re-enqueuing job %s, whose message was lost", envelope.job_id)
            enqueue(task, envelope)


def _other_live_workers(board: Any, backend: str) -> set[str]:
    """Workers that may still finish what they started (so their jobs are not re-run)."""
    if backend != "redis":
        return set()  # we hold the data folder's worker lock: any other worker is gone
    host = os.uname().nodename
    alive = set()
    for worker_id, info in board.workers().items():
        if info.get("host") == host:
            try:
                os.kill(int(info.get("pid", 0)), 0)
            except (ProcessLookupError, ValueError):
                continue
            except PermissionError:
                pass
        alive.add(worker_id)
    return alive


class LoadMonitor:
    """CPU load of the other processes, refreshed every heartbeat (about once a second).

    A reading taken at decision time would cover everything since the previous one,
    minutes maybe; a blocking sample would delay every job.
    """

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self._cpus = psutil.cpu_count() or 1
        self._lock = threading.Lock()
        self._others = 0.0
        self.refresh()

    def refresh(self) -> None:
        """Take the load since the last refresh."""
        with self._lock:
            system = self._psutil.cpu_percent(None)
            own = self._me.cpu_percent(None) / self._cpus
            self._others = max(0.0, system - own)

    def others(self) -> float:
        """Percent of the machine's CPU used by other processes lately."""
        with self._lock:
            return self._others


def _heartbeat(
    board: Any, worker_id: str, runner: Any, stop: threading.Event, load: LoadMonitor, jobs: Any
) -> None:
    while not stop.is_set():
        try:
            load.refresh()
            # What the plugins' job modules report (the transcriber: its loaded models),
            # under the worker's own fields, which they cannot overwrite.
            info = {**jobs.status(), "running": dict(runner.current)}
            info["throttled"] = runner.last_throttle
            board.heartbeat(worker_id, info)
        except Exception:
            logger.exception("heartbeat failed")
        stop.wait(HEARTBEAT_SECONDS)


def _die_with(owner_pid: int) -> None:
    """Exit when the owner goes: the kernel's parent-death signal, and a watchdog."""
    if sys.platform.startswith("linux") and os.getppid() == owner_pid:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != owner_pid:  # the owner died before prctl took effect
            os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                logger.warning("the server (pid %d) is gone; the worker stops", owner_pid)
                os._exit(0)
            except PermissionError:
                pass

    threading.Thread(target=watch, daemon=True, name="owner-watch").start()
