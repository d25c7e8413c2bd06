"""The command table behind ``workspace/executeCommand``.

Each command takes at most one argument, a JSON object, structured into an attrs class;
bad arguments answer InvalidParams naming the field, and the server stays up.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
from collections.abc import Callable
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams

from .config import camel
from .errors import ButlerError, InvalidArguments

logger = logging.getLogger(__name__)

# LSP 3.17: "a request failed but it was syntactically correct".
REQUEST_FAILED = types.LSPErrorCodes.RequestFailed.value


@attrs.frozen
class NoArguments:
    """The argument of commands that take none: an empty object (or nothing at all)."""


@attrs.frozen
class PositionArgument:
    """A position in a document, as LSP gives it (zero-based line, character in the
    client's position encoding); command arguments of every plugin use it."""

    line: int
    character: int

    def to_lsp(self) -> types.Position:
        """The lsprotocol Position."""
        return types.Position(line=self.line, character=self.character)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)

    def structure_factory(cls: type) -> Callable[..., Any]:
        renames = {f.name: override(rename=camel(f.name)) for f in attrs.fields(cls)}
        return make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True, **renames)

    def unstructure_factory(cls: type) -> Callable[..., Any]:
        renames = {
            f.name: override(rename=camel(f.name), omit_if_default=f.default is None)
            for f in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, converter, **renames)

    converter.register_structure_hook_factory(attrs.has, structure_factory)
    # JSON types are taken as they are: 5 is not the string "5", "yes" is not true.
    for kind, accepts in _STRICT.items():
        converter.register_structure_hook(kind, _strict(kind, accepts))
    converter.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return converter


def _strict(kind: type, accepts: tuple[type, ...]) -> Callable[[Any, type], Any]:
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}

    def structure(value: Any, _: type) -> Any:
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, accepts):
            raise TypeError(f"expected {names[kind]}, got {value!r}")
        return kind(value)

    return structure


_STRICT: dict[type, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (int, float),
    bool: (bool,),
}


@functools.cache
def converter() -> cattrs.Converter:
    """The shared converter, built on first use (it costs start-up time otherwise)."""
    return _make_converter()


def structure_arguments(arguments: Any, cls: type | None, command_id: str) -> Any:
    """Turn ``ExecuteCommandParams.arguments`` into an instance of ``cls``.

    Raises InvalidArguments with a message that names the field and what it should be.
    """
    cls = cls or NoArguments
    args = list(arguments or [])
    if len(args) > 1:
        raise InvalidArguments(
            f"{command_id} takes at most one argument, a JSON object; got {len(args)} arguments"
        )
    value = args[0] if args else None
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidArguments(
            f"{command_id} takes a JSON object as its argument, got {type(value).__name__}"
        )
    try:
        return converter().structure(value, cls)
    except cattrs.BaseValidationError as exc:
        # Name fields as the client spells them (camelCase), not as Python does.
        problems = [
            re.sub(r"(?<=arguments\.)\w+", lambda m: camel(m.group(0)), problem)
            for problem in cattrs.transform_error(exc, path="arguments")
        ]
        raise InvalidArguments(f"{command_id}: " + "; ".join(problems)) from None
    except (TypeError, ValueError) as exc:
        raise InvalidArguments(f"{command_id}: {exc}") from None


def unstructure_result(result: Any) -> Any:
    """A handler's answer as JSON-ready data (attrs classes become camelCase objects)."""
    if result is None:
        return {}
    return converter().unstructure(result)


@attrs.frozen
class CommandEntry:
    """One command: who owns it, what it takes and how it runs."""

    id: str
    """Dotted command id, as listed in ``executeCommandProvider``."""

    owner: str
    """Plugin id of the owner (``core`` for the server's own commands)."""

    handler: Callable[[Any], Any]
    """Called with the structured argument; may be a coroutine function."""

    arguments: type | None = None
    """attrs class of the argument object; None means it takes none."""

    thread: bool = False
    """Run a blocking (non-async) handler in a worker thread instead of on the event loop."""


class CommandTable:
    """Commands by id, with one dispatcher that validates and maps errors."""

    def __init__(self, on_owner_error: Callable[[str, str, BaseException], None]) -> None:
        self._entries: dict[str, CommandEntry] = {}
        self._on_owner_error = on_owner_error

    def add(self, entry: CommandEntry) -> None:
        """Register a command; a second command with the same id is an error."""
        if entry.id in self._entries:
            other = self._entries[entry.id].owner
            raise ButlerError(
                f"command {entry.id} of {entry.owner} is already registered by {other}"
            )
        self._entries[entry.id] = entry

    def remove_owner(self, owner: str) -> list[str]:
        """Forget the commands of one plugin (when it deactivates or fails)."""
        gone = [cid for cid, entry in self._entries.items() if entry.owner == owner]
        for cid in gone:
            del self._entries[cid]
        return gone

    def get(self, command_id: str) -> CommandEntry | None:
        """The entry of a live command, or None."""
        return self._entries.get(command_id)

    def ids(self) -> list[str]:
        """Ids of the live commands."""
        return list(self._entries)

    async def execute(self, command_id: str, arguments: Any, unavailable: str | None) -> Any:
        """Run one command and answer JSON-ready data, or raise a JSON-RPC error."""
        entry = self._entries.get(command_id)
        if entry is None:
            reason = unavailable or "no active plugin provides it"
            raise JsonRpcException(
                message=f"{command_id} is not available: {reason}", code=REQUEST_FAILED
            )
        try:
            params = structure_arguments(arguments, entry.arguments, command_id)
            if entry.thread and not inspect.iscoroutinefunction(entry.handler):
                result = await asyncio.to_thread(entry.handler, params)
            else:
                result = entry.handler(params)
            if inspect.isawaitable(result):
                result = await result
            return unstructure_result(result)
        except InvalidArguments as exc:
            raise JsonRpcInvalidParams(message=str(exc)) from None
        except ButlerError as exc:
            raise JsonRpcException(message=str(exc), code=REQUEST_FAILED) from None
        except (JsonRpcException, asyncio.CancelledError):
            raise
        except Exception as exc:
            logger.exception("command %s of %s failed", command_id, entry.owner)
            self._on_owner_error(entry.owner, command_id, exc)
            raise JsonRpcInternalError(
                message=f"{command_id} failed inside plugin {entry.owner}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
