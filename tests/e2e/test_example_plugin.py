"""The complete example plugin of docs/plugins.md, loaded from docs/examples like a user's:
its command, its setting, and its background job in the real worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from .conftest import StartServer, execute, server_pid

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
# Batch work waits while the machine is busy; the test machine often is.
SETTINGS = {"plugins": {"paths": [str(EXAMPLES)]}, "throttle": {"maxCpuPercent": 100}}


async def test_the_example_counts_a_file_in_the_worker(start_server: StartServer, tmp_path: Path):
    root = tmp_path / "workspace"
    root.mkdir()
    text = "one two three 42\n" * 5000  # more than one progress chunk
    (root / "book.txt").write_text(text)
    client = await start_server(init_options=SETTINGS, root=root)
    answer = await execute(client, "example.wordCountFile", {"path": "book.txt"})
    assert answer["words"] == 4 * 5000 and answer["lines"] == 5000
    assert answer["worker"] != server_pid(client)  # counted in the worker, not the server

    client_without_numbers = await start_server(
        init_options={**SETTINGS, "word_count": {"countNumbers": False}}, root=root
    )
    answer = await execute(client_without_numbers, "example.wordCountFile", {"path": "book.txt"})
    assert answer["words"] == 3 * 5000  # the plugin's own setting reaches its job

    with pytest.raises(JsonRpcException, match="is not a file"):
        await execute(client, "example.wordCountFile", {"path": "missing.txt"})
