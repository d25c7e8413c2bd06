"""Malformed messages on the wire: every request with a readable id gets one answer, and a
broken ``Content-Length`` costs one message, never the rest of the session.

The server runs as a real process; the test writes raw bytes to its stdin, because a
well-behaved LSP client cannot be made to send these messages.
"""

from __future__ import annotations

import asyncio
import io
import json
import queue
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pygls.io_ import StdoutWriter

from butler_ls.lsp.protocol import ButlerProtocol, peek_request
from butler_ls.lsp.transport import MAX_CONTENT_LENGTH, ResilientLanguageServer, read_messages
from tests.e2e.conftest import TEST_PLUGINS

TIMEOUT = 5.0
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
PARSE_ERROR = -32700


class RawServer:
    """``python -m butler_ls`` on pipes; bytes go in as given, answers are collected."""

    def __init__(self, env: dict[str, str], stderr: Path, tcp: bool = False) -> None:
        self._stderr = stderr.open("wb")
        command = [sys.executable, "-m", "butler_ls"]
        if tcp:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            command += ["--tcp", "--port", str(port)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env
        )
        self._wire_in, self._wire_out = self.process.stdout, self.process.stdin
        if tcp:
            connection = _connect(port)
            self._wire_in, self._wire_out = connection.makefile("rb"), connection.makefile("wb")
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.answers: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        wire = self._wire_in
        assert wire is not None
        while True:
            length = None
            line = wire.readline()
            while line not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                line = wire.readline()
            if not line or length is None:
                self._inbox.put(None)
                return
            self._inbox.put(json.loads(wire.read(length)))

    def send(self, data: bytes) -> None:
        """Write ``data`` to the server as it is."""
        assert self._wire_out is not None
        self._wire_out.write(data)
        self._wire_out.flush()

    def request(self, msg_id: Any, method: str, params: Any = None) -> None:
        """Send a well-formed request."""
        message = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(frame(message))

    def answer(self, msg_id: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The answer to ``msg_id``; fails the test if none comes within ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.answers.get(msg_id):
            try:
                message = self._inbox.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                pytest.fail(f"no answer to request {msg_id!r} within {timeout} s")
            if message is None:
                pytest.fail(f"the server closed its output before answering {msg_id!r}")
            if "method" in message and "id" in message:  # a request from the server
                self.send(frame({"jsonrpc": "2.0", "id": message["id"], "result": None}))
            elif "method" not in message:
                self.answers[message.get("id")].append(message)
        return self.answers[msg_id][0]

    def status_answers(self, msg_id: Any) -> None:
        """``butler.status`` is answered: the stream is in step again."""
        self.request(msg_id, "workspace/executeCommand", {"command": "butler.status"})
        assert "version" in self.answer(msg_id)["result"]

    def stop(self) -> None:
        """Shut down and exit (or kill the process if it does not go)."""
        if self.process.poll() is None:
            try:
                self.request("shutdown", "shutdown")
                self.answer("shutdown")
                self.send(frame({"jsonrpc": "2.0", "method": "exit"}))
                self.process.wait(timeout=TIMEOUT)
            except (BrokenPipeError, subprocess.TimeoutExpired, pytest.fail.Exception):
                self.process.kill()
                self.process.wait()
        self._stderr.close()


def _connect(port: int) -> socket.socket:
    deadline = time.monotonic() + 30
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def frame(message: dict[str, Any] | bytes) -> bytes:
    """A message with a correct ``Content-Length`` header."""
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def execute_command(msg_id: Any, **params: Any) -> bytes:
    """A framed ``workspace/executeCommand`` request with ``params`` as given."""
    return frame(
        {"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand", "params": params}
    )


def status_body(msg_id: Any) -> bytes:
    """The body of a ``butler.status`` request (to frame wrongly)."""
    message = {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "workspace/executeCommand",
        "params": {"command": "butler.status"},
    }
    return json.dumps(message).encode()


def nested(msg_id: int, depth: int) -> bytes:
    """A ``butler.status`` request whose arguments are nested ``depth`` arrays deep."""
    return (
        b'{"jsonrpc": "2.0", "id": %d, "method": "workspace/executeCommand", '
        b'"params": {"command": "butler.status", "arguments": [%s%s]}}'
        % (msg_id, b"[" * depth, b"]" * depth)
    )


def start(
    butler_env: dict[str, str], tmp_path: Path, tcp: bool = False, **init_options: Any
) -> RawServer:
    """A raw server, initialized."""
    server = RawServer(butler_env, tmp_path / "stderr.txt", tcp=tcp)
    server.request(
        "init",
        "initialize",
        {
            "processId": None,
            "rootUri": None,
            "capabilities": {},
            "initializationOptions": init_options,
        },
    )
    assert "capabilities" in server.answer("init", timeout=30)["result"]
    server.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    return server


@pytest.fixture
def server(butler_env: dict[str, str], tmp_path: Path) -> Iterator[RawServer]:
    """An initialized server on raw pipes, stopped at the end of the test."""
    raw = start(butler_env, tmp_path)
    yield raw
    raw.stop()


def _request(msg_id: int, method: Any = "workspace/executeCommand", **fields: Any) -> bytes:
    return frame({"jsonrpc": "2.0", "id": msg_id, "method": method, **fields})


def _status(msg_id: int, arguments: Any) -> bytes:
    return execute_command(msg_id, command="butler.status", arguments=arguments)


# (name, the message for a given id, the error code of its answer)
BAD_REQUESTS: list[tuple[str, Callable[[int], bytes], int]] = [
    ("arguments 5", lambda i: _status(i, 5), INVALID_PARAMS),
    ("arguments true", lambda i: _status(i, True), INVALID_PARAMS),
    ('arguments "x"', lambda i: _status(i, "x"), INVALID_PARAMS),
    ("arguments {}", lambda i: _status(i, {}), INVALID_PARAMS),
    ("arguments a long string", lambda i: _status(i, "x" * 100_000), INVALID_PARAMS),
    ("arguments nested 2,000 deep", lambda i: frame(nested(i, 2000)), INVALID_PARAMS),
    ("params 5", lambda i: _request(i, params=5), INVALID_PARAMS),
    ("params missing", lambda i: _request(i), INVALID_PARAMS),
    ("command missing", lambda i: execute_command(i, arguments=[]), INVALID_PARAMS),
    ("unknown method", lambda i: _request(i, "butler/nothing"), METHOD_NOT_FOUND),
    ("method a number", lambda i: _request(i, 5), INVALID_REQUEST),
    ("jsonrpc 1.0", lambda i: frame({"jsonrpc": "1.0", "id": i, "method": "x"}), INVALID_REQUEST),
    ("jsonrpc missing", lambda i: frame({"id": i, "method": "shutdown"}), INVALID_REQUEST),
    ("a notification with an id", lambda i: _request(i, "initialized", params={}), INVALID_REQUEST),
    ("body cut short", lambda i: frame(status_body(i)[:-12]), PARSE_ERROR),
]  # fmt: skip


@pytest.mark.parametrize(
    ("message", "code"), [case[1:] for case in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS]
)
def test_a_request_that_cannot_be_read_is_answered(
    server: RawServer, message: Callable[[int], bytes], code: int
):
    server.send(message(1))
    answer = server.answer(1)
    assert answer["error"]["code"] == code, answer
    assert len(answer["error"]["message"]) < 400, "the error repeats a huge value"
    server.status_answers(2)
    assert len(server.answers[1]) == 1


def test_arguments_nested_2000_deep_are_answered(server: RawServer):
    server.send(frame(nested(1, 2000)))
    error = server.answer(1)["error"]
    assert error["code"] == INVALID_PARAMS
    assert "nested too deeply" in error["message"]
    server.status_answers(2)
    # Nesting that JSON can load still reaches the command, which refuses it by name.
    server.send(frame(nested(3, 500)))
    assert "JSON object" in server.answer(3)["error"]["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"this is not JSON", PARSE_ERROR), (b"", PARSE_ERROR), (b"[1, 2]", INVALID_REQUEST)],
    ids=["not JSON", "empty", "an array"],
)
def test_a_body_without_a_readable_id_is_answered_with_a_null_id(
    server: RawServer, body: bytes, code: int
):
    server.send(frame(body))
    assert server.answer(None)["error"]["code"] == code
    server.status_answers(2)


def test_a_notification_with_bad_params_is_dropped_without_an_answer(server: RawServer):
    server.send(frame({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": 5}))
    server.send(frame({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {}}))
    server.status_answers(2)
    assert set(server.answers) == {"init", 2}


def _framed(header: bytes, msg_id: int) -> bytes:
    return header + b"\r\n\r\n" + status_body(msg_id)


def _length(msg_id: int, change: int) -> bytes:
    return b"Content-Length: %d" % (len(status_body(msg_id)) + change)


OVER_LIMIT = MAX_CONTENT_LENGTH + 1
# (name, a butler.status request for a given id, the error code of its answer or None)
BAD_FRAMES: list[tuple[str, Callable[[int], bytes], int | None]] = [
    ("not a number", lambda i: _framed(b"Content-Length: abc", i), INVALID_REQUEST),
    ("negative", lambda i: _framed(b"Content-Length: -5", i), INVALID_REQUEST),
    ("absurdly large", lambda i: _framed(b"Content-Length: 99999999999", i), INVALID_REQUEST),
    ("over the limit", lambda i: _framed(b"Content-Length: %d" % OVER_LIMIT, i), INVALID_REQUEST),
    ("missing", lambda i: _framed(b"Content-Type: application/vscode-jsonrpc", i), INVALID_REQUEST),
    ("too short", lambda i: _framed(_length(i, -20), i), PARSE_ERROR),
    # The body ends before its length does: it is read, then the next header after it.
    ("too long", lambda i: _framed(_length(i, 9), i), None),
    ("garbage before a header", lambda i: b"hello\r\n\r\nworld " + frame(status_body(i)), None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "code"), [case[1:] for case in BAD_FRAMES], ids=[c[0] for c in BAD_FRAMES]
)
def test_a_bad_content_length_costs_one_message_not_the_session(
    server: RawServer, data: Callable[[int], bytes], code: int | None
):
    server.send(data(1))
    server.status_answers(2)
    answer = server.answer(1)
    if code is None:
        assert "version" in answer["result"]
    else:
        assert answer["error"]["code"] == code, answer
    # Still in step for the messages after that.
    server.status_answers(3)
    assert len(server.answers[1]) == 1


def test_a_command_that_raises_answers_internal_error(butler_env: dict[str, str], tmp_path: Path):
    server = start(butler_env, tmp_path, plugins={"paths": [str(TEST_PLUGINS)]})
    try:
        server.request(1, "workspace/executeCommand", {"command": "test.explode"})
        error = server.answer(1)["error"]
        assert error["code"] == INTERNAL_ERROR and "ZeroDivisionError" in error["message"]
        server.status_answers(2)
    finally:
        server.stop()


def test_a_request_after_shutdown_is_answered(server: RawServer):
    server.request("bye", "shutdown")
    assert server.answer("bye")["result"] is None
    server.request(1, "workspace/executeCommand", {"command": "butler.status"})
    error = server.answer(1)["error"]
    assert error["code"] == INVALID_REQUEST and "shutting down" in error["message"]
    server.send(frame({"jsonrpc": "2.0", "method": "exit"}))
    assert server.process.wait(timeout=TIMEOUT) == 0


def test_every_request_is_answered_exactly_once_in_one_long_session(server: RawServer):
    """All the cases above, one after the other, on one stream."""
    cases = [case[1] for case in BAD_REQUESTS + BAD_FRAMES]
    ids = list(range(100, 100 + len(cases)))
    server.send(b"".join(message(msg_id) for msg_id, message in zip(ids, cases, strict=True)))
    server.status_answers(2)
    for msg_id in ids:
        server.answer(msg_id)
    assert all(len(server.answers[msg_id]) == 1 for msg_id in ids), server.answers


def test_the_tcp_transport_recovers_too(butler_env: dict[str, str], tmp_path: Path):
    server = start(butler_env, tmp_path, tcp=True)
    try:
        server.send(BAD_FRAMES[0][1](1))
        server.send(_status(2, 5))
        server.status_answers(3)
        assert server.answer(1)["error"]["code"] == INVALID_REQUEST
        assert server.answer(2)["error"]["code"] == INVALID_PARAMS
    finally:
        server.stop()


def test_peek_request_finds_the_top_level_id_and_method():
    deep = b"[" * 5000 + b'{"id": 9, "method": "inner"}' + b"]" * 5000
    body = b'{"jsonrpc": "2.0", "params": ' + deep + b', "id": "a\\"b", "method": "m"}'
    assert peek_request(body) == ('a"b', "m")
    assert peek_request(b'{"jsonrpc": "2.0", "id": 12, "method": "workspace/exe') == (
        12,
        "workspace/exe",
    )
    assert peek_request(b'{"method": "id", "id": -3}') == (-3, "id")
    assert peek_request(b'{"id": 1.5, "method": "m"}') == (None, "m")
    assert peek_request(b'"2.0", "id": 12, "method": "m"}') == (None, None)
    assert peek_request(b'{"id": "cut sh') == (None, None)


def answers_in_process(data: bytes, server: ResilientLanguageServer | None = None) -> list[Any]:
    """The answers of a server with no features to ``data``, read by ``read_messages``."""
    server = server or ResilientLanguageServer("test", "0", protocol_cls=ButlerProtocol)
    out = io.BytesIO()
    server.protocol.set_writer(StdoutWriter(out))

    async def main() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        await read_messages(reader, server.protocol, threading.Event())

    asyncio.run(main())
    wire, answers = out.getvalue(), []
    while wire:
        header, _, wire = wire.partition(b"\r\n\r\n")
        length = int(header.split(b"\r\n")[0].split(b":")[1])
        answers.append(json.loads(wire[:length]))
        wire = wire[length:]
    return answers


def test_the_reader_answers_every_request_once_in_process():
    """The long session above without a process: quick to run and to debug."""
    cases = [case[1] for case in BAD_REQUESTS + BAD_FRAMES]
    ids = list(range(100, 100 + len(cases)))
    probe = frame({"jsonrpc": "2.0", "id": "probe", "method": "butler/nothing"})
    data = b"".join(message(msg_id) for msg_id, message in zip(ids, cases, strict=True))
    answers = answers_in_process(data + probe)
    answered = [answer["id"] for answer in answers]
    assert sorted(answered, key=str) == sorted([*ids, "probe"], key=str)
    assert answers[-1]["error"]["code"] == METHOD_NOT_FOUND


def test_an_answer_that_is_no_json_is_answered_internal_error():
    server = ResilientLanguageServer("test", "0", protocol_cls=ButlerProtocol)

    @server.feature("butler/aSet")
    def a_set(ls: ResilientLanguageServer, params: Any) -> Any:
        return {"words": {"a", "b"}}

    (answer,) = answers_in_process(
        frame({"jsonrpc": "2.0", "id": 1, "method": "butler/aSet", "params": {}}), server
    )
    assert answer["id"] == 1 and answer["error"]["code"] == INTERNAL_ERROR
