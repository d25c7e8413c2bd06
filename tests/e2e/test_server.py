"""The real butler-ls process over LSP: start-up, commands, plugins, settings, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from .conftest import TEST_PLUGINS, StartServer, execute, mapped_files, server_pid

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"


def plugin_states(status: dict) -> dict[str, str]:
    return {p["id"]: p["state"] for p in status["plugins"]}


async def test_initialize_advertises_commands_and_server_info(start_server: StartServer):
    client = await start_server()
    result = client.initialize_result
    assert result.server_info.name == "butler-ls"
    commands = result.capabilities.execute_command_provider.commands
    assert {"butler.status", "butler.plugins.list"} <= set(commands)


async def test_status_reports_plugins_capabilities_and_parts(start_server: StartServer):
    client = await start_server()
    status = await execute(client, "butler.status")
    assert status["version"]
    states = plugin_states(status)
    assert states["voice_input"] == "active"
    assert states["daily_writer"] == "active"
    assert {"notes.daily", "voice.capture", "status.audio"} <= set(status["capabilities"])
    assert states["task_queue"] == "active"
    assert status["worker"]["state"] == "not started"  # it starts with the first job
    assert status["queue"] == {"backend": "sqlite", "pending": 0, "running": 0}
    assert status["model"]["name"] == "tiny.en" and status["model"]["loaded"] is False
    audio = status["audio"]  # a microphone or not, it says which, or why not
    assert audio["device"] if audio["available"] else "microphone" in audio["reason"]
    listing = await execute(client, "butler.plugins.list")
    assert listing["plugins"] == status["plugins"]


async def test_broken_plugins_are_isolated_and_reported_once(start_server: StartServer):
    client = await start_server(
        init_options={"plugins": {"paths": [str(TEST_PLUGINS), str(EXAMPLES)]}}
    )
    status = await execute(client, "butler.status")
    by_id = {p["id"]: p for p in status["plugins"]}
    assert by_id["echo"]["state"] == "active"
    assert by_id["word_count"]["state"] == "active"
    assert by_id["daily_writer"]["state"] == "active"
    for broken, words in {
        "raise_on_import": "broken on purpose (import)",
        "raise_on_activate": "broken on purpose (activate)",
        "broken_manifest": "version",
        "needs_missing": "not_installed_anywhere",
        "cycle_a": "cycle",
        "cycle_b": "cycle",
    }.items():
        assert by_id[broken]["state"] == "failed", broken
        assert words in by_id[broken]["reason"], (broken, by_id[broken]["reason"])
    # The half-activated plugin left nothing behind.
    assert "test.half" not in status["capabilities"]
    # Each failure told the user exactly once.
    shown = [m.message for m in client.messages]
    for broken in ("raise_on_import", "raise_on_activate", "broken_manifest", "cycle_a"):
        assert sum(f"'{broken}'" in m for m in shown) == 1, (broken, shown)
    # The good plugins work.
    answer = await execute(client, "test.echo", {"text": "hi", "times": 2})
    assert answer == {"text": "hi hi"}


async def test_example_plugin_from_the_docs_works(start_server: StartServer, tmp_path: Path):
    client = await start_server(init_options={"plugins": {"paths": [str(EXAMPLES)]}})
    commands = client.initialize_result.capabilities.execute_command_provider.commands
    assert "example.wordCount" in commands
    uri = (tmp_path / "workspace" / "draft.md").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="markdown", version=1, text="Butler takes notes 4 you"
            )
        )
    )
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(0, 0), end=types.Position(0, 0)),
                    text="Hello. ",
                )
            ],
        )
    )
    answer = await execute(client, "example.wordCount", {"uri": uri})
    assert answer["words"] == 6
    assert answer["changesSeen"] == 1
    assert answer["notesFolder"].endswith("notes/daily")
    with pytest.raises(JsonRpcException, match="is not open"):
        await execute(client, "example.wordCount", {"uri": uri + "x"})


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ([{"text": 5}], "text"),
        ([{"times": 2}], "text"),
        ([{"text": "a", "times": "many"}], "times"),
        ([{"text": "a", "colour": "red"}], "colour"),
        (["just a string"], "JSON object"),
        ([{"text": "a"}, {"text": "b"}], "at most one argument"),
    ],
)
async def test_bad_arguments_answer_invalid_params(start_server: StartServer, arguments, words):
    client = await start_server(init_options={"plugins": {"paths": [str(TEST_PLUGINS)]}})
    with pytest.raises(JsonRpcInvalidParams) as caught:
        await execute(client, "test.echo", *arguments)
    assert words in caught.value.message
    assert caught.value.code == -32602
    # Still serving, and the plugin is not blamed for the caller's mistake.
    assert (await execute(client, "test.echo", {"text": "ok"})) == {"text": "ok"}


async def test_status_refuses_arguments_it_does_not_take(start_server: StartServer):
    client = await start_server()
    with pytest.raises(JsonRpcInvalidParams, match="verbose"):
        await execute(client, "butler.status", {"verbose": True})
    assert (await execute(client, "butler.status", {}))["version"]


async def test_plugin_raising_in_a_command_answers_that_call_and_keeps_serving(
    start_server: StartServer,
):
    client = await start_server(init_options={"plugins": {"paths": [str(TEST_PLUGINS)]}})
    with pytest.raises(JsonRpcException, match="ZeroDivisionError") as caught:
        await execute(client, "test.explode")
    assert "echo" in caught.value.message and "goes on serving" in caught.value.message
    status = await execute(client, "butler.status")
    echo = {p["id"]: p for p in status["plugins"]}["echo"]
    assert echo["state"] == "active" and "reason" not in echo
    assert not [m for m in client.messages if "'echo'" in m.message]
    # The same plugin's other commands, and the failing one again, still answer.
    assert (await execute(client, "test.echo", {"text": "a"})) == {"text": "a"}
    with pytest.raises(JsonRpcException, match="ZeroDivisionError"):
        await execute(client, "test.explode")
    assert plugin_states(status)["daily_writer"] == "active"


async def test_disabled_plugins_are_not_loaded(start_server: StartServer):
    client = await start_server(
        init_options={"plugins": {"disabled": ["voice_input"], "paths": [str(EXAMPLES)]}}
    )
    status = await execute(client, "butler.status")
    by_id = {p["id"]: p for p in status["plugins"]}
    assert by_id["voice_input"]["state"] == "disabled"
    assert "plugins.disabled" in by_id["voice_input"]["reason"]
    assert "voice.capture" not in status["capabilities"]
    assert by_id["word_count"]["state"] == "active"
    assert not [m for m in client.messages if "voice_input" in m.message]


async def test_settings_merge_and_bad_keys_warn(start_server: StartServer, tmp_path: Path):
    client = await start_server(
        config_yaml={
            "notes": {"directory": "/from/file", "filenameFormat": "%Y/%m-%d.md"},
            "model": {"name": "from-file"},
        },
        init_options={"model": {"name": "from-init", "device": "tpu"}, "notse": {}},
        workspace_settings={"notes": {"directory": str(tmp_path / "from-workspace")}},
    )
    status = await _status_after_settings(client)
    settings = status["settings"]
    assert settings["notes"]["directory"] == str(tmp_path / "from-workspace")
    assert settings["notes"]["filenameFormat"] == "%Y/%m-%d.md"
    assert settings["model"]["name"] == "from-init"
    assert settings["model"]["device"] == "auto"
    shown = " | ".join(m.message for m in client.messages)
    assert "butler.model.device" in shown and "tpu" in shown
    assert "butler.notse" in shown and "did you mean 'notes'" in shown

    # workspace/didChangeConfiguration makes the server read the settings again.
    client.set_configuration({"model": {"vocabulary": ["pygls"]}}, section="butler")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    for _ in range(50):
        status = await execute(client, "butler.status")
        if status["settings"]["model"]["vocabulary"] == ["pygls"]:
            break
        await asyncio.sleep(0.1)
    assert status["settings"]["model"]["vocabulary"] == ["pygls"]
    assert status["settings"]["model"]["name"] == "from-init"


async def test_broken_config_file_names_the_line(start_server: StartServer):
    client = await start_server(config_yaml="notes:\n  directory: [unclosed\n")
    status = await execute(client, "butler.status")
    assert status["version"]
    shown = " | ".join(m.message for m in client.messages)
    assert "config.yaml" in shown and "line" in shown


async def _status_after_settings(client) -> dict:
    """butler.status once workspace/configuration has been pulled after initialized."""
    for _ in range(50):
        status = await execute(client, "butler.status")
        if status["settings"]["notes"]["directory"] != "/from/file":
            return status
        await asyncio.sleep(0.1)
    return status


async def test_server_does_not_load_heavy_libraries(start_server: StartServer):
    client = await start_server()
    await execute(client, "butler.status")
    maps = mapped_files(server_pid(client))
    for heavy in ("ctranslate2", "onnxruntime", "numpy", "faster_whisper"):
        assert heavy not in maps, heavy


async def test_logs_go_to_a_private_file_in_the_data_dir(
    start_server: StartServer, butler_env: dict[str, str]
):
    client = await start_server()
    await execute(client, "butler.status")
    data = Path(butler_env["XDG_DATA_HOME"]) / "butler"
    log = data / "logs" / "butler-ls.log"
    assert log.is_file()
    assert (log.stat().st_mode & 0o777) == 0o600
    assert (data.stat().st_mode & 0o777) == 0o700
    assert "activated" in log.read_text()


async def test_shutdown_and_exit_leave_no_process(start_server: StartServer):
    client = await start_server()
    pid = server_pid(client)
    process = psutil.Process(pid)
    children = process.children(recursive=True)
    await client.shutdown_session()
    assert client._server.returncode == 0
    assert not psutil.pid_exists(pid) or process.status() == psutil.STATUS_ZOMBIE
    for child in children:
        assert not child.is_running()


async def test_server_exits_when_its_editor_dies(start_server: StartServer):
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    client = await start_server(process_id=editor.pid)
    pid = server_pid(client)
    editor.send_signal(signal.SIGKILL)
    editor.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and client._server.returncode is None:
        await asyncio.sleep(0.1)
    assert client._server.returncode is not None, f"server {pid} still running"
    assert not os.path.exists(f"/proc/{pid}/status") or psutil.Process(pid).status() == "zombie"
