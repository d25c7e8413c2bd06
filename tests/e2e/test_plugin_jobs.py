"""Job handlers that plugins declare in their manifests (``jobs:``), run by the real worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from .conftest import TEST_PLUGINS, StartServer, execute, server_pid

PLUGINS = {"plugins": {"paths": [str(TEST_PLUGINS)]}}


async def test_a_plugins_own_job_kind_runs_in_the_worker(start_server: StartServer):
    client = await start_server(init_options=PLUGINS)
    answer = await execute(client, "test.owner.shout", {"text": "hello"})
    assert answer["text"] == "HELLO"
    assert answer["pid"] != server_pid(client)  # the worker process ran it, not the server
    status = await execute(client, "butler.queue.status")
    assert status["worker"]["pid"] == answer["pid"]


async def test_a_broken_job_module_fails_only_its_own_kinds(
    start_server: StartServer, butler_env: dict[str, str]
):
    client = await start_server(init_options=PLUGINS)
    with pytest.raises(JsonRpcException) as caught:
        await execute(client, "test.broken.run")
    message = caught.value.message
    assert "plugin job_broken" in message and "job module exploded on purpose" in message
    # Its neighbours' kinds, and the core's, still run in the same worker.
    assert (await execute(client, "test.owner.shout", {"text": "still"}))["text"] == "STILL"
    assert (await execute(client, "test.job", {"kind": "echo", "payload": {"value": 2}}))["result"][
        "echo"
    ] == 2
    # The server's side of the plugin is fine: only its worker code is broken.
    plugins = {p["id"]: p["state"] for p in (await execute(client, "butler.status"))["plugins"]}
    assert plugins["job_broken"] == "active"
    log = Path(butler_env["XDG_DATA_HOME"]) / "butler" / "logs" / "worker.log"
    text = log.read_text()
    assert "plugin job_broken" in text and "RuntimeError" in text


async def test_a_disabled_plugin_s_jobs_say_so(start_server: StartServer):
    client = await start_server(
        init_options={"plugins": {"paths": [str(TEST_PLUGINS)], "disabled": ["job_owner"]}}
    )
    with pytest.raises(JsonRpcException, match="plugin job_owner is not loaded: disabled"):
        await execute(client, "test.job", {"kind": "test.shout", "payload": {"text": "x"}})
