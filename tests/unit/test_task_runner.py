"""The task runner: every background task is owned, its failure logged once, shutdown ends it."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import threading
import time
import warnings
import weakref
from pathlib import Path

import pytest
from lsprotocol import types

from butler_ls.host.context import PluginContext
from butler_ls.host.manifest import PluginManifest
from butler_ls.lsp import server as server_mod
from butler_ls.util.paths import Paths
from butler_ls.util.tasks import TaskRunner

ROOT = Path(__file__).resolve().parents[2]
PRIVATE = "dear diary, the launch code is 0000"


async def test_a_task_nobody_holds_lives_until_it_ends():
    runner = TaskRunner()
    release = asyncio.Event()
    finished = []

    async def work() -> None:
        await release.wait()
        finished.append(True)

    ref = weakref.ref(runner.spawn(work(), "work"))
    gc.collect()
    assert ref() is not None and runner.running == 1
    release.set()
    for _ in range(10):
        if finished and runner.running == 0:
            break
        await asyncio.sleep(0)
    assert finished == [True] and runner.running == 0
    gc.collect()
    assert ref() is None  # and the runner lets go of it once it ended


async def test_a_failure_is_logged_once_with_its_traceback_and_no_text(caplog):
    runner = TaskRunner()

    async def write(text: str) -> None:
        raise ValueError("the note folder is gone")

    with caplog.at_level(logging.DEBUG):
        task = runner.spawn(write(PRIVATE), "note writer")
        await asyncio.wait([task])
        del task
        gc.collect()  # an unretrieved exception would be reported by asyncio here
        await asyncio.sleep(0)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "note writer" in errors[0].getMessage()
    assert errors[0].exc_info is not None and errors[0].exc_info[0] is ValueError
    assert "raise ValueError" in caplog.text  # the traceback is there
    assert PRIVATE not in caplog.text
    assert runner.running == 0


async def test_a_cancelled_task_is_not_an_error(caplog):
    runner = TaskRunner()
    task = runner.spawn(asyncio.sleep(30), "sleeper")
    await asyncio.sleep(0)
    task.cancel()
    with caplog.at_level(logging.DEBUG):
        await asyncio.wait([task])
        await asyncio.sleep(0)
    assert task.cancelled() and runner.running == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_spawn_without_a_running_loop_says_so_and_closes_the_coroutine():
    async def work() -> None:
        pass

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would fail here
        with pytest.raises(RuntimeError, match="'late' needs a running event loop"):
            TaskRunner().spawn(work(), "late")
        gc.collect()


async def test_close_cancels_and_waits_for_every_task():
    runner = TaskRunner()
    cleaned = []

    async def holds_a_file(index: int) -> None:
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0.01)  # cleanup that itself awaits
            cleaned.append(index)

    for index in range(3):
        runner.spawn(holds_a_file(index), f"holder {index}")
    await asyncio.sleep(0)
    await runner.close(timeout=5)
    assert sorted(cleaned) == [0, 1, 2] and runner.running == 0


async def test_close_does_not_hang_on_a_task_that_ignores_cancel(caplog):
    runner = TaskRunner()
    stop = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await stop.wait()  # swallows the cancel and goes on

    runner.spawn(stubborn(), "stubborn")
    await asyncio.sleep(0)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="butler_ls.util.tasks"):
        await runner.close(timeout=0.2)
    assert time.monotonic() - began < 2
    assert any("stubborn" in r.getMessage() for r in caplog.records)
    stop.set()
    await asyncio.sleep(0.01)
    assert runner.running == 0


async def test_close_from_a_task_of_the_runner_does_not_wait_for_itself():
    runner = TaskRunner()
    other = runner.spawn(asyncio.sleep(30), "other")

    async def closer() -> str:
        await runner.close(timeout=5)
        return "closed"

    assert await asyncio.wait_for(runner.spawn(closer(), "closer"), 2) == "closed"
    assert other.cancelled()


async def test_spawn_from_another_thread_runs_on_the_loop_and_reports_back():
    runner = TaskRunner()
    loop = asyncio.get_running_loop()
    ran_on = []

    async def work() -> int:
        ran_on.append(threading.get_ident())
        return 7

    future = await asyncio.to_thread(runner.spawn_threadsafe, loop, work(), "from a thread")
    assert await asyncio.wrap_future(future) == 7
    assert ran_on == [threading.get_ident()]


async def test_server_shutdown_with_a_pending_plugin_task_does_not_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(server_mod, "SHUTDOWN_TASK_SECONDS", 0.3)
    ls = server_mod.create_server(Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data"))
    manifest = PluginManifest(
        id="slow", name="Slow", version="1", description="", entry_module="plugin", entry_attr=None
    )
    ctx = PluginContext(manifest, ls)
    release = asyncio.Event()

    async def ignores_cancel() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await release.wait()

    pending = ctx.run_task(asyncio.sleep(30), "poll")
    stubborn = ctx.run_task(ignores_cancel(), "stubborn")
    await asyncio.sleep(0)
    assert ls.tasks.running == 2 and pending.get_name() == "slow:poll"
    shutdown = ls.protocol.fm.features[types.SHUTDOWN]
    await asyncio.wait_for(shutdown(), 5)
    assert pending.cancelled()
    assert not stubborn.done()  # left behind with a warning, shutdown went on
    release.set()
    await asyncio.wait([stubborn])
    assert ls.tasks.running == 0


def test_no_background_task_is_created_outside_the_runner():
    """Every task goes through butler_ls/util/tasks.py, so each one is owned and logged."""
    pattern = re.compile(r"\b(create_task|ensure_future|run_coroutine_threadsafe)\(")
    runner_module = ROOT / "butler_ls" / "util" / "tasks.py"
    offenders = []
    for folder in (ROOT / "butler_ls", ROOT / "plugins"):
        for path in sorted(folder.rglob("*.py")):
            if path == runner_module:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "use ctx.run_task / the TaskRunner instead:\n" + "\n".join(offenders)
