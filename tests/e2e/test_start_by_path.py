"""Dictation started as Helix starts it: the document by a path relative to the workspace
folder and the place by line and column from 1, with the real server, worker and model."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from .conftest import StartServer, execute, open_document
from .test_dictation import DATA, played, watch_states

LINE = "🎉é: x"
"""Line 2 of the draft: column 5 is before the x, the 8th UTF-8 byte (the emoji is 4)."""


async def test_a_path_line_and_column_put_the_words_there(
    start_server: StartServer, tmp_path: Path
):
    root = tmp_path / "workspace"
    (root / "notes").mkdir(parents=True)
    draft = root / "notes" / "draft.md"
    draft.write_text("")
    # Neovim's capabilities offer UTF-8 first, so the server counts in bytes.
    client = await start_server(root=root, editor="neovim")
    assert client.initialize_result.capabilities.position_encoding == "utf-8"
    states = watch_states(client)
    uri = open_document(client, draft, f"# Draft\n{LINE}\nThe end.\n")
    # The test editor applies the server's edits in the encoding they were agreed in.
    client.editor.documents[uri] = TextDocument(
        uri,
        client.editor.documents[uri].source,
        version=1,
        position_codec=PositionCodec(encoding=types.PositionEncodingKind.Utf8),
    )

    started = await execute(
        client,
        "butler.dictation.start",
        {
            "path": "notes/draft.md",
            "line": 2,
            "column": 5,
            "audioFile": str(DATA / "ps_goforward.wav"),
            "speed": 2.0,
        },
    )
    answer = await played(client, states, started)

    first, second, *rest = client.editor.documents[uri].source.split("\n")
    assert (first, rest) == ("# Draft", ["The end.", ""])
    assert second.startswith("🎉é: ") and second.endswith("x"), second
    dictated = second.removeprefix("🎉é: ").removesuffix("x").strip()
    assert dictated == answer["text"].strip() and "forward" in dictated.lower(), second
    mine = [s for s in states if s.sessionId == started["sessionId"]]
    assert mine[0].uri == uri
