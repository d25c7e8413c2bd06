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
from pygls.workspace import TextDocument
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
        act_as_editor(client)
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


class EditorState:
    """What the test "editor" holds: open buffers, versions, and refused edits."""

    def __init__(self) -> None:
        self.documents: dict[str, TextDocument] = {}
        self.applied: list[types.WorkspaceEdit] = []
        self.refused = 0


def act_as_editor(client: LanguageClient) -> EditorState:
    """Make the test client apply ``workspace/applyEdit`` to its open buffers, as an
    editor does: check the version, apply, tell the server with didChange, answer."""
    state = EditorState()
    client.editor = state

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        edit = params.edit
        changes: list[tuple[str, int | None, list[types.TextEdit]]] = []
        for change in edit.document_changes or []:
            changes.append((change.text_document.uri, change.text_document.version, change.edits))
        for uri, edits in (edit.changes or {}).items():
            changes.append((uri, None, edits))
        for uri, version, _edits in changes:
            document = state.documents.get(uri)
            if document is None or (version is not None and version != document.version):
                state.refused += 1
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="version")
        for uri, _, edits in changes:
            ordered = sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character))
            for text_edit in reversed(ordered):
                change_text(client, uri, text_edit.range, text_edit.new_text)
        state.applied.append(edit)
        return types.ApplyWorkspaceEditResult(applied=True)

    return state


def open_document(client: LanguageClient, path: Path, text: str) -> str:
    """Open ``path`` in the test editor with ``text`` (unsaved buffer content)."""
    uri = path.as_uri()
    client.editor.documents[uri] = TextDocument(uri, text, version=1)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="markdown", version=1, text=text
            )
        )
    )
    return uri


def change_text(client: LanguageClient, uri: str, range_: types.Range, text: str) -> None:
    """Edit the buffer as a user would (or as an applied edit does) and send didChange."""
    document = client.editor.documents[uri]
    change = types.TextDocumentContentChangePartial(range=range_, text=text)
    document.apply_change(change)
    document.version = (document.version or 0) + 1
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=document.version),
            content_changes=[change],
        )
    )


def close_document(client: LanguageClient, uri: str) -> None:
    """Close the buffer without saving."""
    client.editor.documents.pop(uri, None)
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )


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


__all__ = [
    "TEST_PLUGINS",
    "StartServer",
    "change_text",
    "close_document",
    "execute",
    "mapped_files",
    "open_document",
    "os",
    "server_pid",
]
