"""Logging: a private rotating file in the data folder, and warnings to the editor.

Nothing ever goes to stdout (it is the LSP wire). Dictated text is private: code logs
it at DEBUG at most, never at INFO.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

LOG_FILE_NAME = "butler-ls.log"
_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def setup_logging(
    log_dir: Path, level: int | str = logging.INFO, file_name: str = LOG_FILE_NAME
) -> Path:
    """Send the ``butler_ls`` and ``pygls`` loggers to a rotating file; returns its path."""
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = log_dir / file_name
    # Create the file private before the handler opens it: logs may hold file names.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2 * 1024 * 1024, backupCount=3, encoding="utf-8", delay=True
    )
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_butler_file", False)]:
        root.removeHandler(old)
        old.close()
    handler._butler_file = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # pygls logs every message at DEBUG/INFO, which would put dictated text in the file.
    logging.getLogger("pygls").setLevel(logging.WARNING)
    logging.getLogger("huey").setLevel(logging.WARNING)
    return path


class LspLogHandler(logging.Handler):
    """Forwards WARNING and above to the client as ``window/logMessage``.

    Safe from any thread: records are handed to the server's event loop.
    """

    def __init__(self, server: LanguageServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(level=logging.WARNING)
        self._server = server
        self._loop = loop
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record for the client; never raises, never recurses."""
        if getattr(self._local, "busy", False) or self._loop.is_closed():
            return
        self._local.busy = True
        try:
            # One line for the editor; the traceback stays in the log file.
            message = f"{record.name}: {record.getMessage()}"
            kind = _message_type(record.levelno)
            self._loop.call_soon_threadsafe(self._send, kind, message)
        except Exception:  # logging must never take the server down
            pass
        finally:
            self._local.busy = False

    def _send(self, kind: object, message: str) -> None:
        from lsprotocol import types

        self._local.busy = True
        try:
            self._server.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:
            pass
        finally:
            self._local.busy = False


def _message_type(levelno: int) -> object:
    from lsprotocol import types

    if levelno >= logging.ERROR:
        return types.MessageType.Error
    return types.MessageType.Warning
