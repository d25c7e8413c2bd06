"""The README's demo: drive a real butler-ls over LSP, as an editor would, and show it.

Transcribes real recordings in the worker and appends them to today's note, in a
temporary workspace with its own folders. Usage: ``python -m butler_ls.demo``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

SPEECH = Path(__file__).resolve().parent.parent / "tests" / "data" / "speech"
# Real recorded speech (sources and licences in tests/data/speech/README.md).
RECORDINGS = [
    SPEECH / "ps_librivox_0880.wav",
    SPEECH / "ps_librivox_0890.wav",
    SPEECH / "arctic_a0007.wav",
]


async def run_demo(workspace: Path, env: dict[str, str]) -> int:
    """Start the server, show its status, transcribe recordings into today's note."""
    client = LanguageClient("butler-demo", "1")
    shown: list[str] = []

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def show_message(params: types.ShowMessageParams) -> None:
        shown.append(params.message)

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def log_message(params: types.LogMessageParams) -> None:
        print(f"  [server log] {params.message}", file=sys.stderr)

    @client.feature(types.WINDOW_SHOW_DOCUMENT)
    def show_document(params: types.ShowDocumentParams) -> types.ShowDocumentResult:
        print(f"  [editor] would show {params.uri}")
        return types.ShowDocumentResult(success=True)

    started = time.perf_counter()
    await client.start_io(sys.executable, "-m", "butler_ls", env=env)
    result = await client.initialize_async(
        types.InitializeParams(
            process_id=os.getpid(),
            capabilities=types.ClientCapabilities(
                workspace=types.WorkspaceClientCapabilities(configuration=False),
                window=types.WindowClientCapabilities(
                    show_document=types.ShowDocumentClientCapabilities(support=True)
                ),
            ),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="demo")],
        )
    )
    ready_ms = (time.perf_counter() - started) * 1000
    client.initialized(types.InitializedParams())
    info = result.server_info
    print(f"{info.name} {info.version} answered initialize in {ready_ms:.0f} ms")
    commands = result.capabilities.execute_command_provider.commands
    print("commands:", ", ".join(commands))
    status = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="butler.status")
    )
    print("plugins:")
    for plugin in status["plugins"]:
        reason = f" ({plugin['reason']})" if plugin.get("reason") else ""
        print(f"  {plugin['id']} {plugin['version']}: {plugin['state']}{reason}")
    print("capabilities:", ", ".join(status["capabilities"]))
    for part in ("worker", "queue", "model", "audio"):
        print(f"{part}: {json.dumps(status[part])}")
    opened = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="butler.note.open", arguments=[{"date": "today"}])
    )
    print(f"today's note: {opened['path']} (created: {opened['created']})")
    for recording in RECORDINGS:
        started = time.perf_counter()
        answer = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="butler.transcribeFile", arguments=[{"path": str(recording)}]
            )
        )
        took = time.perf_counter() - started
        print(f"{recording.name}: {answer['duration']:.1f} s of speech -> text in {took:.2f} s")
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="butler.note.append", arguments=[{"text": answer["text"]}]
            )
        )
    print("\n--- today's note ---")
    print(Path(opened["path"]).read_text(encoding="utf-8"))
    for message in shown:
        print("message:", message)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return 0


def main() -> int:
    """Run the demo in a throw-away home."""
    with tempfile.TemporaryDirectory(prefix="butler-demo-") as tmp:
        home = Path(tmp)
        workspace = home / "workspace"
        workspace.mkdir()
        env = dict(
            os.environ,
            HOME=tmp,
            XDG_CONFIG_HOME=f"{tmp}/config",
            XDG_DATA_HOME=f"{tmp}/data",
            HF_HUB_OFFLINE="1",
        )
        print(f"workspace: {workspace}")
        return asyncio.run(run_demo(workspace, env))


if __name__ == "__main__":
    sys.exit(main())
