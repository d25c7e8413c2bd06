"""A Redis queue that stops answering must not freeze the editor.

The real server, a real redis-server (stopped with SIGSTOP, as a hung host would be) and a
plain TCP listener that never answers: status and note commands still answer within 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import launch_redis

from .conftest import TEST_PLUGINS, StartServer, execute

ANSWER_WITHIN = 1.0  # the bound: the editor gets an answer within a second
STALL_SECONDS = 12.0  # longer than the 10 s socket timeout, so stuck reads time out in between
COMMANDS = ("butler.status", "butler.queue.status", "butler.note.append")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A redis-server of this test's own (the shared one is never stopped)."""
    try:
        with launch_redis(tmp_path / "redis") as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        server.close()


async def answer_times(client, rounds: float, worst: dict[str, float], notes: list[str]) -> dict:
    """Run each command every ~2 s for ``rounds`` seconds; the worst time of each."""
    deadline = time.monotonic() + rounds
    last: dict = {}
    index = 0
    while True:
        for command in COMMANDS:
            argument = [{"text": f"stalled {index}"}] if command == "butler.note.append" else []
            began = time.monotonic()
            try:
                last[command] = await asyncio.wait_for(execute(client, command, *argument), 15)
            except TimeoutError:
                raise AssertionError(f"{command} did not answer within 15 s") from None
            took = time.monotonic() - began
            worst[command] = max(worst.get(command, 0.0), took)
            if command == "butler.note.append":
                notes.append(f"stalled {index}")
        index += 1
        if time.monotonic() >= deadline:
            return last
        await asyncio.sleep(2.0)


def echo(value: str) -> dict:
    # Interactive, as dictation is: batch work may wait for a busy CPU (throttling).
    return {"kind": "echo", "payload": {"value": value}, "priority": "interactive"}


async def until_normal(client, timeout: float = 60.0) -> dict:
    """butler.status once the queue answers and a worker runs, with nothing stale."""
    deadline = time.monotonic() + timeout
    while True:
        status = await execute(client, "butler.status")
        worker, queue = status["worker"], status["queue"]
        if worker["state"] == "running" and "reason" not in worker and "state" not in queue:
            return status
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.2)


def report(case: str, worst: dict[str, float]) -> None:
    # Shown with -s, and in the failure output: the measured worst answer times.
    print(case, {command: round(seconds, 3) for command, seconds in worst.items()})


async def test_a_stopped_redis_does_not_freeze_the_editor(
    start_server: StartServer, own_redis, tmp_path: Path
):
    process, port = own_redis
    url = f"redis://127.0.0.1:{port}/0"
    root = tmp_path / "workspace"
    client = await start_server(
        init_options={
            "plugins": {"paths": [str(TEST_PLUGINS)]},
            "queue": {"backend": "redis", "url": url},
        },
        root=root,
    )
    answer = await execute(client, "test.job", echo("hi"))
    assert answer["result"]["echo"] == "hi"  # the queue is open and a worker serves it
    await until_normal(client)

    worst: dict[str, float] = {}
    notes: list[str] = []
    os.kill(process.pid, signal.SIGSTOP)
    try:
        last = await answer_times(client, STALL_SECONDS, worst, notes)
    finally:
        os.kill(process.pid, signal.SIGCONT)
    report("stopped redis", worst)
    assert all(seconds < ANSWER_WITHIN for seconds in worst.values()), worst
    status = last["butler.status"]
    assert status["queue"]["state"] == "not answering"
    assert f"the queue at {url} did not answer within 0.5 s" in status["queue"]["reason"]
    assert status["worker"]["state"] in ("running", "starting", "restarting")
    assert "did not answer" in last["butler.queue.status"]["reason"]
    note = Path(last["butler.note.append"]["path"]).read_text()
    assert all(text in note for text in notes)  # every entry is in, not only answered

    # Redis answers again: everything recovers by itself, jobs included.
    began = time.monotonic()
    status = await until_normal(client)
    assert status["queue"] == {"backend": "redis", "pending": 0, "running": 0}
    recovered = time.monotonic() - began
    answer = await asyncio.wait_for(execute(client, "test.job", echo("back")), 60)
    assert answer["result"]["echo"] == "back"
    print(
        f"status normal after {recovered:.1f} s, a job done after {time.monotonic() - began:.1f} s"
    )


async def test_a_listener_that_never_answers_does_not_freeze_the_editor(
    start_server: StartServer, silent_listener: int
):
    url = f"redis://user:secret@127.0.0.1:{silent_listener}/0"
    client = await start_server(init_options={"queue": {"backend": "redis", "url": url}})
    worst: dict[str, float] = {}
    last = await answer_times(client, STALL_SECONDS, worst, [])
    report("silent listener", worst)
    assert all(seconds < ANSWER_WITHIN for seconds in worst.values()), worst
    # Opening the queue timed out by now: status says so, without the password.
    queue = last["butler.status"]["queue"]
    assert f"redis://user:***@127.0.0.1:{silent_listener}/0" in queue["error"], queue
    assert "secret" not in str(last)
    assert last["butler.status"]["worker"]["state"] == "unavailable"
