"""A minimal blocking LSP client over a subprocess's stdio, for benchmarks.

Hand-written so that the client's own start-up and overhead stay out of the figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil


class StdioServer:
    """butler-ls (or ``argv``) in a subprocess, spoken to with JSON-RPC frames."""

    def __init__(self, env: dict[str, str], argv: list[str] | None = None) -> None:
        self.proc = subprocess.Popen(
            argv or [sys.executable, "-m", "butler_ls"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._next_id = 0
        self.handlers: dict[str, Any] = {}
        """Answers to server requests by method (``params -> result``); others get null."""
        self.notifications: list[dict[str, Any]] = []
        """Notifications read while waiting, oldest first."""

    def send(self, method: str, params: Any = None, *, request: bool = True) -> int | None:
        """Write one message; returns its id for requests."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        msg_id = None
        if request:
            self._next_id += 1
            msg_id = message["id"] = self._next_id
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()
        return msg_id

    def read(self) -> dict[str, Any]:
        """Read one message from the server."""
        stream = self.proc.stdout
        length = 0
        while True:
            line = stream.readline()
            if not line:
                raise EOFError("the server closed its output")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(stream.read(length))

    def wait_for(self, msg_id: int) -> dict[str, Any]:
        """Read until the response to ``msg_id`` (server requests are answered with null)."""
        while True:
            message = self.read()
            if "method" in message and "id" in message:
                self._answer(message)
                continue
            if "method" in message:
                message["_at"] = time.monotonic()  # when this client read it
                self.notifications.append(message)
                continue
            if message.get("id") == msg_id:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return message

    def _answer(self, request: dict[str, Any]) -> None:
        handler = self.handlers.get(request["method"])
        result = handler(request.get("params")) if handler else None
        body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def pump(self, until: Any) -> None:
        """Read and handle messages until ``until(notification)`` is true for one."""
        while True:
            message = self.read()
            if "method" in message and "id" in message:
                self._answer(message)
            elif "method" in message:
                message["_at"] = time.monotonic()  # when this client read it
                self.notifications.append(message)
                if until(message):
                    return

    def request(self, method: str, params: Any = None) -> Any:
        """Send a request and wait for its result."""
        return self.wait_for(self.send(method, params))["result"]

    def initialize(self, root: Path, options: dict[str, Any] | None = None) -> Any:
        """initialize + initialized."""
        result = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "capabilities": {},
                "initializationOptions": options,
            },
        )
        self.send("initialized", {}, request=False)
        return result

    def command(self, name: str, *arguments: Any) -> Any:
        """workspace/executeCommand."""
        return self.request(
            "workspace/executeCommand", {"command": name, "arguments": list(arguments)}
        )

    def close(self) -> None:
        """shutdown + exit."""
        self.request("shutdown")
        self.send("exit", None, request=False)
        self.proc.wait(timeout=10)


@contextlib.contextmanager
def running_server(
    options: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> Iterator[tuple[StdioServer, Path]]:
    """An initialized butler-ls in a throw-away home with a ``workspace`` folder; shut down
    on exit. ``env`` adds to the isolated environment."""
    with tempfile.TemporaryDirectory() as home:
        root = Path(home) / "workspace"
        root.mkdir()
        server = StdioServer({**isolated_env(home), **(env or {})})
        try:
            server.initialize(root, options)
            yield server, root
        finally:
            server.close()


def isolated_env(home: str) -> dict[str, str]:
    """An environment whose config and data folders live under ``home``."""
    return dict(
        os.environ,
        HOME=home,
        XDG_CONFIG_HOME=f"{home}/config",
        XDG_DATA_HOME=f"{home}/data",
        HF_HUB_OFFLINE="1",
    )


def worker_process(server: StdioServer, timeout: float = 60.0) -> Any:
    """The server's queue worker, once it has started (butler.queue.status)."""
    deadline = time.monotonic() + timeout
    while True:
        pid = (server.command("butler.queue.status").get("worker") or {}).get("pid")
        if pid:
            return psutil.Process(pid)
        if time.monotonic() > deadline:
            raise RuntimeError("no worker started")
        time.sleep(0.2)
