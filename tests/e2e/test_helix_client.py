"""Helix writes a failed ``workspace/executeCommand`` only to its log (helix-view's
``execute_lsp_command`` logs the error and nothing else), so a command run from its picker
without its argument would fail without a word. Butler tells a client that introduces
itself as ``helix`` the same sentence with ``window/showMessage``; other clients, which show
the error answer themselves, get no second copy."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

from .conftest import act_as_editor, execute

StartAs = Callable[[str], Awaitable[LanguageClient]]


@pytest_asyncio.fixture
async def start_as(butler_env: dict[str, str], tmp_path: Path) -> AsyncIterator[StartAs]:
    """Start the real server for a client that sends ``clientInfo.name``."""
    clients: list[LanguageClient] = []

    async def start(client_name: str) -> LanguageClient:
        root = tmp_path / "workspace"
        root.mkdir(exist_ok=True)
        client = make_test_lsp_client()
        act_as_editor(client)
        await client.start_io(sys.executable, "-m", "butler_ls", env=butler_env)
        clients.append(client)
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"),
                client_info=types.ClientInfo(name=client_name, version="test"),
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            )
        )
        return client

    yield start
    for client in clients:
        if client._server is not None and client._server.returncode is None:
            await client.shutdown_session()
        await client.stop()


async def _fail(client: LanguageClient) -> str:
    """Run dictation.start as Helix's picker does (no argument); return the error."""
    with pytest.raises(JsonRpcException) as failure:
        await execute(client, "butler.dictation.start")
    return failure.value.message


def _errors(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if m.type == types.MessageType.Error]


async def test_helix_sees_a_failed_command_in_its_status_line(start_as: StartAs):
    client = await start_as("helix")
    answer = await _fail(client)
    assert "uri" in answer and "dailyNote" in answer, answer
    await asyncio.sleep(0.2)  # the notification was sent before the answer; let it land
    assert _errors(client) == [answer]
    # A second failure is shown again: it answers something the user just did.
    await _fail(client)
    await asyncio.sleep(0.2)
    assert _errors(client) == [answer, answer]


async def test_a_client_that_shows_errors_itself_gets_no_second_copy(start_as: StartAs):
    client = await start_as("Visual Studio Code")
    await _fail(client)
    await execute(client, "butler.status")  # a full round trip after the failure
    await asyncio.sleep(0.2)
    assert _errors(client) == []
