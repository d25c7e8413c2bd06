"""The README's demo: drive a real butler-ls over LSP, as an editor would, and show it.

Dictates real recorded speech into today's note (played in real time as the microphone,
through the worker and the model) in a temporary workspace with its own folders, and
prints the note and each utterance's latency. Usage: ``python -m butler_ls.demo``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from butler_ls.util.audio_format import SAMPLE_RATE

DEMO_DATA = Path(__file__).resolve().parent / "data" / "demo"
# Real recorded speech, shipped with the package (source and licence in its README.md).
RECORDINGS = [
    DEMO_DATA / "ps_librivox_0870.wav",
    DEMO_DATA / "ps_librivox_0880.wav",
    DEMO_DATA / "ps_librivox_0890.wav",
]
RATE = SAMPLE_RATE
"""The recordings' rate (mono, 16-bit): they are joined as they are, without decoding."""


def join_recordings(paths: list[Path], out: Path, pause: float = 1.5, lead: float = 0.5) -> float:
    """Write ``paths`` in turn after ``lead`` s of silence, each followed by ``pause`` s of
    silence, as one WAV: a person dictating. Returns its length in seconds."""
    frames = int(RATE * lead)
    with wave.open(str(out), "wb") as joined:
        joined.setnchannels(1)
        joined.setsampwidth(2)
        joined.setframerate(RATE)
        joined.writeframes(bytes(2 * frames))
        for path in paths:
            with wave.open(str(path), "rb") as part:
                if part.getparams()[:3] != (1, 2, RATE):
                    raise ValueError(f"{path}: not {RATE} Hz mono 16-bit")
                joined.writeframes(part.readframes(part.getnframes()))
                frames += part.getnframes()
            joined.writeframes(bytes(2 * int(RATE * pause)))
            frames += int(RATE * pause)
    return frames / RATE


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

    finished = asyncio.Event()

    @client.feature("butler/dictationState")
    def dictation_state(params: Any) -> None:
        if params.state in ("idle", "error"):
            if params.state == "error":
                print(f"  dictation error: {getattr(params, 'message', '')}", file=sys.stderr)
            finished.set()

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
    recording = workspace / "dictation.wav"
    seconds = join_recordings(RECORDINGS, recording, pause=1.5)
    print(f"dictating {seconds:.1f} s of recorded speech into today's note, in real time...")
    session = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="butler.dictation.start",
            arguments=[{"target": "dailyNote", "audioFile": str(recording)}],
        )
    )
    await finished.wait()
    answer = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="butler.dictation.stop", arguments=[session])
    )
    print("utterance  length  latency  (pause detection + spool + queue + model + edit)")
    for u in answer["utterances"]:
        print(
            f"  {u['index']:>7}  {u['duration']:5.1f} s  {u['total']:5.2f} s  "
            f"({u['vad']:.2f} + {u['spool']:.3f} + {u['queue']:.3f} + {u['model']:.2f} + "
            f"{u['edit']:.3f})"
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
