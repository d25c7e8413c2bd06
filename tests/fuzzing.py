"""Fuzzing a real butler-ls over stdio: a raw JSON-RPC client with time-outs, and hypothesis
strategies for command arguments (wrong types, extreme numbers, odd strings, paths).

Shared by tests/e2e/test_fuzz.py (a fixed seed in CI) and benchmarks/fuzz.py (a longer run).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

INTERNAL_ERROR = -32603

# -- the client ---------------------------------------------------------------------------


class RawLspClient:
    """butler-ls in a subprocess; a reader thread answers its requests like an editor would
    and files responses by id, so a missing answer is a time-out, not a hang."""

    def __init__(self, env: dict[str, str], cwd: Path, command: list[str] | None = None) -> None:
        self.proc = subprocess.Popen(
            command or [sys.executable, "-m", "butler_ls"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )
        self._next_id = 0
        self._lock = threading.Lock()
        self._answers: dict[Any, queue.SimpleQueue[dict[str, Any]]] = {}
        self.notifications: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read_all, daemon=True)
        self._reader.start()

    def write(self, data: bytes) -> None:
        """Write raw bytes to the server's stdin."""
        with self._lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        """Frame and write one message."""
        body = json.dumps(message).encode()
        self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def request(self, method: str, params: Any = None, timeout: float = 30.0) -> dict | None:
        """Send a request; the whole response, or None when none came within ``timeout``."""

        def body(msg_id: int) -> bytes:
            message = {"jsonrpc": "2.0", "id": msg_id, "method": method}
            if params is not None:
                message["params"] = params
            return json.dumps(message).encode()

        return self._exchange(body, timeout)

    def _exchange(self, body: Any, timeout: float) -> dict | None:
        """Send the request ``body(id)`` builds; its answer, or None after ``timeout``."""
        with self._lock:
            self._next_id += 1
            msg_id = self._next_id
        answers = self._answers.setdefault(msg_id, queue.SimpleQueue())
        data = body(msg_id)
        self.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        try:
            return answers.get(timeout=timeout)
        except queue.Empty:
            return None
        finally:
            self._answers.pop(msg_id, None)

    def command(self, name: str, arguments: Any, timeout: float = 30.0) -> dict | None:
        """``workspace/executeCommand`` with ``arguments`` exactly as given."""
        return self.request(
            "workspace/executeCommand", {"command": name, "arguments": arguments}, timeout
        )

    def command_json(self, name: str, arguments_json: str, timeout: float = 30.0) -> dict | None:
        """``workspace/executeCommand`` whose arguments are raw JSON text (deeper than
        Python's own encoder goes)."""

        def body(msg_id: int) -> bytes:
            return (
                f'{{"jsonrpc": "2.0", "id": {msg_id}, "method": "workspace/executeCommand", '
                f'"params": {{"command": {json.dumps(name)}, "arguments": {arguments_json}}}}}'
            ).encode()

        return self._exchange(body, timeout)

    def initialize(self, root: Path, options: dict[str, Any]) -> dict[str, Any]:
        """initialize + initialized; the initialize result."""
        answer = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": {"workspace": {"applyEdit": True}},
                "initializationOptions": options,
            },
        )
        assert answer is not None and "result" in answer, answer
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        return answer["result"]

    def close(self) -> None:
        """shutdown + exit, then make sure the process is gone."""
        try:
            self.request("shutdown", timeout=10)
            self.send({"jsonrpc": "2.0", "method": "exit"})
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()

    def _read_all(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii", "replace").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length is None:
                continue
            message = json.loads(stream.read(length))
            if "method" in message and "id" in message:
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": _editor(message)})
            elif "method" in message:
                self.notifications.append(message)
            elif (answers := self._answers.get(message.get("id"))) is not None:
                answers.put(message)


def _editor(request: dict[str, Any]) -> Any:
    """What a plain editor answers to the server's requests."""
    method = request["method"]
    if method == "workspace/configuration":
        return [None for _ in request.get("params", {}).get("items", [])]
    if method == "window/showDocument":
        return {"success": True}
    if method == "workspace/applyEdit":
        return {"applied": False, "failureReason": "the fuzzing editor has no buffers"}
    return None


# -- the strategies -----------------------------------------------------------------------

ODD_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff tail",
    "é ✓ 🙂",
    "\u202e\u200b",
    "\n\r\t",
    "%s%n%x",
    "${HOME}",
    "-1",
    "+99999999999",
    "1" * 4301,
    "9999-12-31",
    "0000-00-00",
    "0001-01-01",
    "2026-02-30",
    "next someday",
    "a" * 256,
    "a" * 5000,
]

PATHS = [
    "/etc/passwd",
    "/etc/shadow",
    "/dev/zero",
    "/dev/urandom",
    "/proc/self/environ",
    "/",
    ".",
    "..",
    "../../../../../../etc/passwd",
    "~",
    "~/.ssh/id_rsa",
    "~root/x",
    "file:///etc/passwd",
    "untitled:Untitled-1",
    "http://127.0.0.1:1/x",
    "C:\\Windows\\win.ini",
    "//server/share/x",
    "no-such-file.wav",
    "dir/" * 300 + "x.wav",
    "x" * 255 + ".wav",
    "x" * 300,
    "notes/daily",
]

NUMBERS = [0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, -(2**63), 10**40, 0.5, -0.0, 1e308]

FIELDS = [
    "date",
    "text",
    "section",
    "uri",
    "position",
    "target",
    "audioFile",
    "speed",
    "sessionId",
    "path",
    "format",
    "language",
    "line",
    "character",
]


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """JSON values made of the odd strings, extreme numbers and paths above."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(NUMBERS),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(ODD_STRINGS),
        st.sampled_from(PATHS),
        st.text(max_size=40),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=3),
        ),
        max_leaves=max_leaves,
    )


def positions() -> st.SearchStrategy[Any]:
    """Positions with extreme or wrong coordinates."""
    coordinate = st.sampled_from(NUMBERS) | st.integers() | json_values(2)
    return st.fixed_dictionaries({"line": coordinate, "character": coordinate}) | json_values(3)


def field_values(name: str) -> st.SearchStrategy[Any]:
    """Values for a field, mostly of its own kind, sometimes anything."""
    if name == "position":
        return positions()
    if name in ("uri", "path", "audioFile"):
        return st.sampled_from(PATHS) | json_values(2)
    if name == "target":
        return st.sampled_from(["cursor", "dailyNote", "return", "newDocument", "x"]) | json_values(
            2
        )
    return json_values(3)


COMMAND_FIELDS = {
    "butler.note.open": ["date"],
    "butler.note.append": ["text", "date", "section"],
    "butler.dictation.start": ["uri", "position", "target", "audioFile", "speed"],
    "butler.dictation.toggle": ["uri", "position", "target", "audioFile", "speed"],
    "butler.dictation.stop": ["sessionId"],
    "butler.dictation.cancel": ["sessionId"],
    "butler.transcribeFile": ["path", "target", "uri", "position", "format", "language"],
}
"""The fields each command takes, so that many cases get past the type check."""

PLAUSIBLE = {
    "date": st.sampled_from(["today", "tomorrow", "-36600", "friday", "2026-01-01"])
    | st.sampled_from(ODD_STRINGS),
    "text": st.text(max_size=200) | st.sampled_from(ODD_STRINGS),
    "section": st.text(max_size=20) | st.sampled_from(ODD_STRINGS),
    "uri": st.sampled_from(PATHS),
    "audioFile": st.sampled_from(PATHS),
    "path": st.sampled_from(PATHS),
    "target": st.sampled_from(["cursor", "dailyNote", "return", "newDocument"]),
    "speed": st.sampled_from([0.1, 100, 1.0, 1e-9, 1e9, 0]),
    "sessionId": st.text(max_size=20) | st.sampled_from(ODD_STRINGS),
    "format": st.sampled_from(["text", "srt", "vtt", "json", "x"]),
    "language": st.sampled_from(["en", "fr", "auto", "xx"]) | st.sampled_from(ODD_STRINGS),
    "position": st.fixed_dictionaries(
        {"line": st.sampled_from(NUMBERS[:7]), "character": st.sampled_from(NUMBERS[:7])}
    ),
}


def plausible_arguments(command: str) -> st.SearchStrategy[list[Any]]:
    """One object with only ``command``'s own fields, of the right JSON types but odd
    values: the cases that reach the plugin's code."""
    fields = COMMAND_FIELDS.get(command, [])
    if not fields:
        return st.just([])
    return (
        st.lists(st.sampled_from(fields), unique=True)
        .flatmap(lambda keys: st.fixed_dictionaries({k: PLAUSIBLE[k] for k in keys}))
        .map(lambda value: [value])
    )


def command_arguments() -> st.SearchStrategy[Any]:
    """``ExecuteCommandParams.arguments``: usually one object of known fields."""
    objects = st.dictionaries(st.sampled_from(FIELDS), st.none(), max_size=4).flatmap(
        lambda keys: st.fixed_dictionaries({k: field_values(k) for k in keys})
    )
    return st.one_of(
        st.tuples(objects).map(list),
        st.tuples(objects, json_values(2)).map(list),
        st.lists(json_values(3), max_size=2),
        st.just([]),
        json_values(2),  # not even a list
    )


def deep(levels: int) -> str:
    """JSON text of a list nested ``levels`` deep."""
    return "[" * levels + "]" * levels


def tree(folder: Path, skip: tuple[Path, ...] = ()) -> set[str]:
    """Every path under ``folder`` except under ``skip``: to see what a run wrote."""
    found = set()
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if Path(root, d) not in skip]
        found.update(os.path.join(root, name) for name in dirs + files)
    return found
