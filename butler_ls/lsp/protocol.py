"""Butler's JSON-RPC layer: every request with a readable id gets an answer, and a broken
``Content-Length`` costs one message, not the session.

pygls 2.1 drops what it cannot parse or structure without a word (the client then waits
forever) and loses the stream after one wrong ``Content-Length``; this module reads the
wire and decodes each message itself, and hands pygls only what it can handle.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Generator
from json.decoder import scanstring
from typing import Any

import cattrs
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
)
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    MsgId,
    RPCRequest,
)
from pygls.protocol.language_server import LanguageServerProtocol, lsp_method

from butler_ls.util.errors import SHOWN_CHARACTERS, shorten

logger = logging.getLogger(__name__)


_DECODER = json.JSONDecoder()
# Runs of brackets count as one step, so a body nested 100,000 deep is scanned quickly.
_TOKENS = re.compile(r'[\[{]+|[\]}]+|"')
_KEY_END = re.compile(r"\s*:\s*")
_INTEGER = re.compile(r"-?\d{1,20}(?![\d.eE])")


def peek_request(body: bytes | str) -> tuple[MsgId | None, str | None]:
    """The top-level ``id`` and ``method`` of a JSON object that cannot be loaded (too
    deep, cut short), found by a scan that keeps no structure; None where not found."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    found: dict[str, Any] = {}
    depth = 0
    if not text.lstrip().startswith("{"):
        return None, None
    pos = 0
    while len(found) < 2 and (token := _TOKENS.search(text, pos)) is not None:
        pos = token.end()
        run = token.group()
        if run[0] in "[{":
            depth += len(run)
            continue
        if run[0] in "]}":
            depth -= len(run)
            if depth <= 0:
                break
            continue
        try:
            key, pos = scanstring(text, pos)
        except ValueError:  # cut short inside a string
            break
        colon = _KEY_END.match(text, pos)
        if depth != 1 or key not in ("id", "method") or key in found or colon is None:
            continue
        start = colon.end()
        if key == "id" and (number := _INTEGER.match(text, start)) is not None:
            found[key], pos = int(number.group()), number.end()
        elif text.startswith('"', start):
            try:
                found[key], pos = scanstring(text, start + 1)
            except ValueError:  # cut short: a method's start still names it, an id's not
                if key == "method":
                    found[key] = text[start + 1 : start + 1 + SHOWN_CHARACTERS]
                break
    return found.get("id"), found.get("method")


def _readable_id(value: Any) -> MsgId | None:
    """A JSON-RPC id that can be echoed in an answer (LSP: integer or string)."""
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    return None


def _structure_problem(exc: Exception) -> str:
    """A short description of why cattrs could not structure a message."""
    if isinstance(exc, cattrs.BaseValidationError):
        problems = cattrs.transform_error(exc)
        text = "; ".join(problems[:3])
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:300] + "..."


class ButlerProtocol(LanguageServerProtocol):
    """pygls' protocol, answering every request it receives (see the module docstring),
    with a shutdown that is safe while commands are still running."""

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        """Shut down: run Butler's handler, then cancel the requests still in flight.

        pygls 2.1 reads the id of "this" request only after the handler's awaits (by
        then it may be another message's, and the shutdown itself got cancelled), and
        cancels while iterating the live dict, which a command's future changes at once.
        """
        current_id = self.msg_id
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    # -- receiving ----------------------------------------------------------------

    def receive(self, body: bytes) -> bytes:
        """Decode and handle one message body; answer what cannot be handled.

        Returns the bytes after the JSON value (a ``Content-Length`` that was too long
        swallowed the start of the next message) for the reader to read again.
        """
        try:
            text = body.decode("utf-8")
            data, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip()))
        except RecursionError:
            self._answer_unreadable(body, JsonRpcInvalidParams, "params are nested too deeply")
            return b""
        except ValueError as exc:  # not JSON, cut short, or not UTF-8
            self._answer_unreadable(body, JsonRpcParseError, f"the message is not JSON ({exc})")
            return b""
        rest = text[end:]
        if rest.strip():
            logger.warning(
                "Content-Length was %d bytes longer than the message; reading on from there",
                len(rest.encode()),
            )
        try:
            self._receive_object(data)
        except Exception:  # pygls answers a failing handler; this is for the rest
            logger.exception("failed to handle a message")
            msg_id = _readable_id(data.get("id")) if isinstance(data, dict) else None
            if msg_id is not None and "method" in data:
                self.answer_error(msg_id, JsonRpcInternalError("the server failed"))
        return rest.encode() if rest.strip() else b""

    def discarded(self, data: bytes, reason: str) -> bool:
        """Answer the request (if one can be made out) whose bytes the reader skipped;
        True if it was answered."""
        msg_id, method = peek_request(data)
        if msg_id is None or method is None:
            return False
        self.answer_error(msg_id, JsonRpcInvalidRequest(f"{method}: {reason}"))
        return True

    def _answer_unreadable(self, body: bytes, error: type[JsonRpcException], reason: str) -> None:
        msg_id, method = peek_request(body)
        logger.warning("unreadable message (%d bytes, method %s): %s", len(body), method, reason)
        if msg_id is not None and method is not None:
            self.answer_error(msg_id, error(f"{method}: {reason}"))
        elif error is JsonRpcParseError:
            self.answer_error(None, error(reason))  # JSON-RPC: parse errors answer id null

    def _receive_object(self, data: Any) -> None:
        if not isinstance(data, dict):
            logger.warning("ignored a message that is a JSON %s", type(data).__name__)
            self.answer_error(None, JsonRpcInvalidRequest("a message must be a JSON object"))
            return
        problem = self._envelope_problem(data)
        if problem is not None:
            error, reason = problem
            msg_id = _readable_id(data.get("id"))
            logger.warning("invalid message: %s", reason)
            if "method" in data and "id" in data:
                self.answer_error(msg_id, error(reason))
            elif "method" not in data and "id" not in data:
                self.answer_error(None, error(reason))
            else:  # a bad notification has nobody to answer; a bad answer, somebody waiting
                self._fail_request(msg_id, reason)
            return
        try:
            message = self._structure(data)
        except Exception as exc:
            reason = f"{data.get('method', 'response')}: {_structure_problem(exc)}"
            logger.warning("unreadable message: %s", reason)
            if "method" in data and "id" in data:
                self.answer_error(data["id"], JsonRpcInvalidParams(reason))
            elif "method" not in data:
                self._fail_request(data["id"], reason)
            return
        if "id" in data and "method" in data and not isinstance(message, RPCRequest):
            reason = f"{data['method']} is a notification: send it without an id"
            self.answer_error(data["id"], JsonRpcInvalidRequest(reason))
            return
        self.handle_message(message)

    def _fail_request(self, msg_id: MsgId | None, reason: str) -> None:
        """Fail our own request ``msg_id``, whose answer from the client was unreadable."""
        if msg_id is not None and msg_id in self._request_futures:
            error = JsonRpcInternalError(f"the client's answer could not be read: {reason}")
            self._handle_response(msg_id, None, error.to_response_error())

    def _envelope_problem(self, data: dict[str, Any]) -> tuple[type[JsonRpcException], str] | None:
        """What makes ``data`` no JSON-RPC 2.0 message (or its params unusable), if anything."""
        method = data.get("method")
        if data.get("jsonrpc") != self.VERSION:
            return JsonRpcInvalidRequest, 'jsonrpc must be "2.0"'
        if "method" not in data and "id" not in data:
            return JsonRpcInvalidRequest, "a message needs a method or an id"
        if "method" in data and not isinstance(method, str):
            return JsonRpcInvalidRequest, f"method must be a string, got {shorten(method)}"
        if "id" in data and _readable_id(data["id"]) is None:
            return (
                JsonRpcInvalidRequest,
                f"id must be a number or a string, got {shorten(data['id'])}",
            )
        if method is None:
            return None
        params = data.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            return (
                JsonRpcInvalidParams,
                f"{method}: params must be an object, got {shorten(params)}",
            )
        if method == types.WORKSPACE_EXECUTE_COMMAND and isinstance(params, dict):
            # lsprotocol's converter would take "x" as ["x"] and {} as [].
            arguments = params.get("arguments")
            if arguments is not None and not isinstance(arguments, list):
                return (
                    JsonRpcInvalidParams,
                    f"{method}: arguments must be an array (of at most one JSON object), "
                    f"got {shorten(arguments)}",
                )
        return None

    def _structure(self, data: dict[str, Any]) -> Any:
        """The typed message for ``data`` (pygls' ``structure_message``, without its
        swallowing of errors)."""
        if "method" in data:
            kind = self.get_message_type(data["method"])
            if kind is None:  # a method lsprotocol does not know: params may be left out
                kind = JsonRPCRequestMessage if "id" in data else JsonRPCNotification
                data = {"params": None, **data}
        elif "error" in data:
            kind = types.ResponseErrorMessage
        else:
            kind = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
        return self._converter.structure(data, kind)

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        """pygls' dispatch to a command, except that an unknown command's name is cut in
        the answer and the log (pygls would echo a 900 kB name whole)."""
        if params.command not in self.fm.commands:
            raise JsonRpcException(
                message=f"there is no command {shorten(params.command, quoted=True)}; "
                "butler.status lists the plugins and the commands they serve",
                code=types.LSPErrorCodes.RequestFailed.value,
            )
        return (yield from super().lsp_workspace__execute_command(params))

    def handle_message(self, message: Any) -> None:
        """pygls' dispatch, except that a request after ``shutdown`` is answered (LSP:
        InvalidRequest) where pygls leaves it unanswered."""
        if self._shutdown and isinstance(message, RPCRequest) and message.method != types.EXIT:
            error = JsonRpcInvalidRequest(f"{message.method}: the server is shutting down")
            self.answer_error(message.id, error)
            return
        super().handle_message(message)

    # -- sending ------------------------------------------------------------------

    def answer_error(self, msg_id: MsgId | None, error: JsonRpcException) -> None:
        """Send ``error`` as the answer to request ``msg_id`` (None: JSON-RPC's null id)."""
        self._send_response(msg_id, error=error.to_response_error())  # type: ignore[arg-type]

    def _send_response(
        self, msg_id: MsgId, result: Any = None, error: types.ResponseError | None = None
    ) -> None:
        """pygls' ``_send_response``, except that a result that cannot be written as JSON
        answers InternalError (pygls would log it and send nothing)."""
        if error is None and result is not None:
            try:
                json.dumps(result, default=self._serialize_message)
            except Exception as exc:
                logger.exception("the answer to %s could not be written as JSON", msg_id)
                reason = f"{type(exc).__name__}: {shorten(str(exc))}"
                error = JsonRpcInternalError(
                    f"the answer could not be written as JSON: {reason}"
                ).to_response_error()
        super()._send_response(msg_id, result, error)
