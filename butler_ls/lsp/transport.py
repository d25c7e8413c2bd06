"""Butler's LSP transport: reads framed messages from stdio or TCP, and a broken
``Content-Length`` costs one message, not the session (pygls' reader loses the stream).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import threading
from collections.abc import Coroutine
from typing import Any

from pygls.io_ import StdinAsyncReader, StdoutWriter
from pygls.lsp.server import LanguageServer

from butler_ls.lsp.protocol import ButlerProtocol
from butler_ls.util.errors import shorten

logger = logging.getLogger(__name__)

MAX_CONTENT_LENGTH = 64 * 1024 * 1024
"""A larger ``Content-Length`` is taken for a broken header, not a message to wait for."""

HEADER = re.compile(rb"[A-Za-z][A-Za-z0-9-]*:[^\r\n]*\r?\n")


def parse_length(raw: bytes) -> tuple[int | None, str | None]:
    """The byte count of a ``Content-Length`` value, or None and what is wrong with it."""
    value = raw.strip()
    if not value.isdigit():
        return None, f"Content-Length {shorten(value.decode('latin-1'))!r} is not a byte count"
    if len(value) > 12 or int(value) > MAX_CONTENT_LENGTH:
        return None, f"Content-Length {shorten(value.decode())} is over {MAX_CONTENT_LENGTH} bytes"
    return int(value), None


class _Input:
    """The client's byte stream, with room to put back what a message read too far."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._pending = b""

    def unread(self, data: bytes) -> None:
        """Read ``data`` again before anything new."""
        self._pending = data + self._pending

    async def readline(self) -> bytes:
        """One line with its newline; empty at the end of input."""
        if self._pending:
            line, newline, rest = self._pending.partition(b"\n")
            self._pending = rest
            if newline:
                return line + newline
            return line + await self._readline()
        return await self._readline()

    async def _readline(self) -> bytes:
        try:
            return await self._reader.readline()
        except ValueError:  # asyncio.StreamReader: a line over its limit, already dropped
            logger.warning("skipped a line longer than the reader's limit")
            return b"?\n"

    async def readexactly(self, count: int) -> bytes:
        """``count`` bytes, or fewer at the end of input."""
        head, self._pending = self._pending[:count], self._pending[count:]
        if len(head) == count:
            return head
        try:
            return head + await self._reader.readexactly(count - len(head))
        except asyncio.IncompleteReadError as exc:
            return head + exc.partial


async def read_messages(reader: Any, protocol: ButlerProtocol, stop_event: threading.Event) -> None:
    """Read framed messages until the input ends (pygls' ``run_async``, made forgiving).

    After a ``Content-Length`` that is missing, not a number, over ``MAX_CONTENT_LENGTH``
    or wrong, the reader skips to the next header line (even one glued to the end of the
    rest of a cut message) and goes on from there.
    """
    stream = _Input(reader)
    length: int | None = None
    problem: str | None = None  # why the header block being read is unusable
    lost: str | None = None  # why the body being skipped now was dropped
    skipped = 0
    while not stop_event.is_set():
        line = await stream.readline()
        if not line:
            break
        if (at := _glued_header(line)) > 0:
            lost = _skip(protocol, line[:at], lost)
            skipped += at
            line, length, problem = line[at:], None, None
        if not line.strip():  # the end of the headers
            if length is not None:
                body = await stream.readexactly(length)
                if len(body) < length:
                    logger.warning("the input ended inside a message")
                    break
                stream.unread(protocol.receive(body))
            elif problem is not None:
                logger.warning("dropped a message: %s", problem)
                lost = problem
            length = problem = None
        elif HEADER.fullmatch(line):
            if skipped:
                logger.warning("skipped %d bytes that were not a message", skipped)
                skipped = 0
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length, problem = parse_length(value)
            elif length is None and problem is None:
                problem = "the headers have no Content-Length"
            lost = None
        else:  # neither header nor body: the rest of a message whose length was wrong
            if length is not None:
                length, problem = None, "a line that is no header came among the headers"
            lost = _skip(protocol, line, lost)
            skipped += len(line)
    if skipped:
        logger.warning("skipped %d bytes at the end of the input that were not a message", skipped)


def _glued_header(line: bytes) -> int:
    """Where a header starts that is glued to the end of ``line`` (0: none, or at the start)."""
    lower = line.lower()
    at = max(lower.rfind(b"content-length:"), lower.rfind(b"content-type:"))
    return at if at > 0 and HEADER.fullmatch(line, at) else 0


def _skip(protocol: ButlerProtocol, data: bytes, lost: str | None) -> str | None:
    """Skip ``data``, answering the request in it if it is the body dropped for ``lost``;
    returns the reason still waiting for its body (None once answered)."""
    if lost is not None and data.strip() and protocol.discarded(data, lost):
        return None
    return lost


class ResilientLanguageServer(LanguageServer):
    """pygls' LanguageServer, reading stdio and TCP through ``read_messages``."""

    protocol: ButlerProtocol

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """Serve on stdin and stdout until ``exit`` or the end of the input."""
        self._stop_event = threading.Event()
        reader = StdinAsyncReader(stdin or sys.stdin.buffer, self.thread_pool)
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        self._serve(read_messages(reader, self.protocol, self._stop_event))

    def start_tcp(self, host: str, port: int) -> None:
        """Serve on ``host:port`` (for debugging) until ``exit``."""
        self._stop_event = stop_event = threading.Event()

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.protocol.set_writer(writer)  # type: ignore[arg-type]
            await read_messages(reader, self.protocol, stop_event)
            self.shutdown()

        async def listen() -> None:
            self._server = await asyncio.start_server(connection, host, port)
            logger.info("serving on %s:%s", host, port)
            async with self._server:
                await self._server.serve_forever()

        self._serve(listen())

    def _serve(self, main: Coroutine[Any, Any, None]) -> None:
        try:
            asyncio.run(main)
        except BrokenPipeError:
            logger.error("the connection to the client is lost; shutting down")
        except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
            pass
        finally:
            self.shutdown()
