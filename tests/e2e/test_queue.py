"""The task queue with a real worker process: results, streaming, crashes, sharing, throttling."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import psutil
import pytest
from pygls.exceptions import JsonRpcException

from .conftest import TEST_PLUGINS, StartServer, execute, server_pid

PLUGINS = {"plugins": {"paths": [str(TEST_PLUGINS)]}}


@pytest.fixture(params=["sqlite", "redis"])
def backend(request) -> str:
    """Every test runs on the default SQLite queue and on a real Redis server."""
    return request.param


@pytest.fixture
def options(backend: str, request) -> dict:
    if backend == "sqlite":
        return PLUGINS
    url = request.getfixturevalue("redis_url")
    return {**PLUGINS, "queue": {"backend": "redis", "url": url}}


async def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError("condition not met in time")


async def queue_status(client) -> dict:
    return await execute(client, "butler.queue.status")


async def test_status_before_any_job_says_not_started(
    start_server: StartServer, options: dict, backend: str
):
    client = await start_server(init_options=options)
    status = await execute(client, "butler.status")
    assert status["worker"]["state"] == "not started"
    assert status["queue"] == {"backend": backend, "pending": 0, "running": 0}
    queue = await queue_status(client)
    assert queue["backend"] == backend and queue["worker"]["state"] == "not started"


async def test_a_job_runs_in_the_worker_and_streams_partials(
    start_server: StartServer, options: dict, backend: str
):
    client = await start_server(init_options=options)
    answer = await execute(client, "test.job", {"kind": "echo", "payload": {"value": "hi"}})
    assert answer["result"]["echo"] == "hi"
    answer = await execute(
        client, "test.job", {"kind": "sleep", "payload": {"seconds": 0.3, "steps": 3}}
    )
    partials = [e for e in answer["events"] if e["kind"] == "partial"]
    assert [p["data"]["step"] for p in partials] == [0, 1, 2]
    assert answer["result"]["steps"] == 3
    status = await queue_status(client)
    assert status["worker"]["state"] == "running"
    worker = psutil.Process(status["worker"]["pid"])
    assert worker.ppid() == server_pid(client)
    assert "worker" in worker.cmdline()


async def test_a_failing_job_answers_a_clear_error(
    start_server: StartServer, options: dict, backend: str
):
    client = await start_server(init_options=options)
    with pytest.raises(JsonRpcException, match="no handler for jobs of kind 'nonsense'"):
        await execute(client, "test.job", {"kind": "nonsense"})
    answer = await execute(client, "test.job", {"kind": "echo", "payload": {"value": 1}})
    assert answer["result"]["echo"] == 1  # the worker is still up


async def test_worker_killed_mid_job_reruns_it_and_delivers_once(
    start_server: StartServer, options: dict, backend: str
):
    client = await start_server(init_options=options)
    await execute(client, "test.job", {"kind": "echo"})  # the worker is up
    first_pid = (await queue_status(client))["worker"]["pid"]
    job = asyncio.ensure_future(
        execute(client, "test.job", {"kind": "sleep", "payload": {"seconds": 2.0, "steps": 10}})
    )

    async def running():
        return (await queue_status(client))["running"] == 1

    await wait_until(running)
    await asyncio.sleep(0.7)  # a few partials are out
    os.kill(first_pid, signal.SIGKILL)
    answer = await asyncio.wait_for(job, 60)
    steps = [e["data"]["step"] for e in answer["events"] if e["kind"] == "partial"]
    assert steps == list(range(10)), "each partial arrives once, in order"
    assert answer["result"]["steps"] == 10
    status = await queue_status(client)
    assert status["worker"]["pid"] != first_pid
    assert status["worker"]["restarts"] >= 1


async def test_killing_the_server_takes_its_worker_down(
    start_server: StartServer, options: dict, backend: str
):
    client = await start_server(init_options=options)
    await execute(client, "test.job", {"kind": "echo"})
    worker_pid = (await queue_status(client))["worker"]["pid"]
    os.kill(server_pid(client), signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and psutil.pid_exists(worker_pid):
        if psutil.Process(worker_pid).status() == psutil.STATUS_ZOMBIE:
            break
        await asyncio.sleep(0.1)
    assert not psutil.pid_exists(worker_pid) or (
        psutil.Process(worker_pid).status() == psutil.STATUS_ZOMBIE
    ), "the worker outlived its server"


async def test_two_servers_share_one_worker_and_the_second_takes_over(
    start_server: StartServer, options: dict, backend: str
):
    first = await start_server(init_options=options)
    second = await start_server(init_options=options)
    await execute(first, "test.job", {"kind": "echo"})
    worker_pid = (await queue_status(first))["worker"]["pid"]
    answer = await execute(second, "test.job", {"kind": "echo", "payload": {"value": 2}})
    assert answer["result"]["echo"] == 2
    status = await queue_status(second)
    assert status["worker"]["pid"] == worker_pid and status["worker"]["owned"] is False

    os.kill(server_pid(first), signal.SIGKILL)

    async def new_worker():
        worker = (await queue_status(second))["worker"]
        return worker.get("pid") not in (None, worker_pid) and worker["state"] == "running"

    await wait_until(new_worker, timeout=20)
    answer = await execute(second, "test.job", {"kind": "echo", "payload": {"value": 3}})
    assert answer["result"]["echo"] == 3
    assert (await queue_status(second))["worker"]["owned"] is True


async def test_throttling_defers_batch_work_and_lets_dictation_through(
    start_server: StartServer, options: dict, backend: str
):
    # More free memory than any machine has: the pressure is real, not mocked.
    # maxCpuPercent 100: a busy test machine must not be the reason instead.
    client = await start_server(
        init_options={**options, "throttle": {"minFreeMemoryMb": 1 << 20, "maxCpuPercent": 100}},
    )
    answer = await execute(
        client, "test.job", {"kind": "sleep", "priority": "interactive", "payload": {"steps": 1}}
    )
    assert answer["result"]["steps"] == 1  # interactive work is never deferred
    batch = asyncio.ensure_future(
        execute(client, "test.job", {"kind": "echo", "payload": {"value": "later"}})
    )

    async def throttled():
        return (await queue_status(client)).get("throttled")

    reason = (await wait_until(throttled))["reason"]
    assert "throttle.minFreeMemoryMb" in reason
    assert not batch.done()

    client.workspace_did_change_configuration(
        __import__("lsprotocol.types", fromlist=["x"]).DidChangeConfigurationParams(
            settings={"butler": {"throttle": {"minFreeMemoryMb": 10}}}
        )
    )
    answer = await asyncio.wait_for(batch, 30)
    assert answer["result"]["echo"] == "later"
    assert any(e["kind"] == "throttled" for e in answer["events"])


async def test_a_restarted_server_gets_the_results_of_its_predecessor(
    start_server: StartServer, options: dict, backend: str
):
    first = await start_server(init_options=options)
    await execute(first, "test.job", {"kind": "echo"})
    job = asyncio.ensure_future(
        execute(first, "test.job", {"kind": "sleep", "payload": {"seconds": 1.5, "steps": 5}})
    )

    async def running():
        return (await queue_status(first))["running"] == 1

    await wait_until(running)
    os.kill(server_pid(first), signal.SIGKILL)  # its worker goes too, mid-job
    await asyncio.gather(job, return_exceptions=True)

    second = await start_server(init_options=options)

    async def recovered():
        messages = (await execute(second, "test.recovered"))["messages"]
        return messages if any(m["kind"] == "final" for m in messages) else None

    messages = await wait_until(recovered, timeout=40)
    steps = [m["data"]["step"] for m in messages if m["kind"] == "partial"]
    assert steps == sorted(set(steps)), "each partial once, in order"
    assert steps[-1] == 4
    assert [m["kind"] for m in messages].count("final") == 1
    assert (await queue_status(second))["recovered"] == 1


async def test_batch_work_runs_at_low_os_priority(
    start_server: StartServer, options: dict, backend: str
):
    client = await start_server(init_options=options)
    batch = await execute(client, "test.job", {"kind": "sleep", "payload": {"steps": 1}})
    live = await execute(
        client, "test.job", {"kind": "sleep", "priority": "interactive", "payload": {"steps": 1}}
    )
    assert batch["result"]["nice"] == 10
    assert live["result"]["nice"] == 0


async def test_shutdown_while_a_job_runs_is_clean(
    start_server: StartServer, options: dict, backend: str
):
    client = await start_server(init_options=options)
    await execute(client, "test.job", {"kind": "echo"})
    job = asyncio.ensure_future(
        execute(client, "test.job", {"kind": "sleep", "payload": {"seconds": 3, "steps": 3}})
    )

    async def running():
        return (await queue_status(client))["running"] == 1

    await wait_until(running)
    await asyncio.wait_for(client.shutdown_session(), 30)
    assert client._server.returncode == 0
    await asyncio.gather(job, return_exceptions=True)
