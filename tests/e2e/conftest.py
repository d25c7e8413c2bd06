"""Fixtures that start the real ``butler-ls`` process and talk LSP to it (pytest-lsp)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

HERE = Path(__file__).resolve().parent
TEST_PLUGINS = HERE / "plugins"

StartServer = Callable[..., Awaitable[LanguageClient]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest_asyncio.fixture
async def start_server(butler_env: dict[str, str], tmp_path: Path) -> AsyncIterator[StartServer]:
    """Start ``python -m butler_ls`` and initialize it; stopped at the end of the test."""
    clients: list[LanguageClient] = []

    async def start(
        *,
        init_options: dict[str, Any] | None = None,
        workspace_settings: dict[str, Any] | None = None,
        config_yaml: dict[str, Any] | str | None = None,
        root: Path | None = None,
        editor: str = "visual-studio-code",
        process_id: int | None = None,
    ) -> LanguageClient:
        if config_yaml is not None:
            config_file = Path(butler_env["XDG_CONFIG_HOME"]) / "butler" / "config.yaml"
            config_file.parent.mkdir(parents=True, exist_ok=True)
            text = config_yaml if isinstance(config_yaml, str) else yaml.safe_dump(config_yaml)
            config_file.write_text(text)
        root = root or tmp_path / "workspace"
        root.mkdir(exist_ok=True)
        client = make_test_lsp_client()
        if workspace_settings is not None:
            client.set_configuration(workspace_settings, section="butler")
        await client.start_io(sys.executable, "-m", "butler_ls", env=butler_env)
        clients.append(client)
        client.initialize_result = await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities(editor),
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
                initialization_options=init_options,
                process_id=process_id,
            )
        )
        return client

    yield start
    for client in clients:
        if client._server is not None and client._server.returncode is None:
            await client.shutdown_session()
        await client.stop()


async def execute(client: LanguageClient, command: str, *arguments: Any) -> Any:
    """Run a ``workspace/executeCommand`` and return its answer."""
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments))
    )


def server_pid(client: LanguageClient) -> int:
    """Process id of the server under test."""
    assert client._server is not None
    return client._server.pid


def mapped_files(pid: int) -> str:
    """The shared objects a process has loaded (from /proc)."""
    return Path(f"/proc/{pid}/maps").read_text()


__all__ = ["TEST_PLUGINS", "StartServer", "execute", "mapped_files", "os", "server_pid"]
