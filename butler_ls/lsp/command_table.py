"""The command table behind ``workspace/executeCommand``.

Each command takes at most one argument, a JSON object, structured into an attrs class
with every number, string and path bounded before any plugin code runs; bad arguments
answer InvalidParams naming the field. A handler's unexpected error answers that request
only: the plugin keeps serving.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import re
from collections.abc import Callable
from typing import Any, NewType

import attrs
import cattrs
import cattrs.v
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.workspace import TextDocument

from butler_ls.host.hosting import CommandEntry
from butler_ls.host.positions import line_column_position
from butler_ls.util.config import camel
from butler_ls.util.errors import ButlerError, InvalidArguments, shorten

logger = logging.getLogger(__name__)

# LSP 3.17: "a request failed but it was syntactically correct".
REQUEST_FAILED = types.LSPErrorCodes.RequestFailed.value


@attrs.frozen
class NoArguments:
    """The argument of commands that take none: an empty object (or nothing at all)."""


MAX_INTEGER = 2**31 - 1
"""Whole numbers in arguments stay within LSP's ``integer`` (and ``uinteger``) range."""

MAX_STRING_CHARS = 1_000_000
"""The longest string an argument may hold (a note entry of a whole book chapter fits)."""

MAX_PATH_BYTES = 4096
"""The longest path an argument may name (Linux' PATH_MAX)."""

MAX_NAME_BYTES = 255
"""The longest single file or folder name in a path (NAME_MAX of common file systems)."""

FilePath = NewType("FilePath", str)
"""A string argument that names a file: bounded like every string, and also by what a
file system can open (no NUL, at most MAX_PATH_BYTES, names of at most MAX_NAME_BYTES)."""


def _non_negative(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= MAX_INTEGER:
        raise ValueError(f"{attribute.name}: must be between 0 and {MAX_INTEGER}, not {value}")


@attrs.frozen
class PositionArgument:
    """A position in a document, as LSP gives it (zero-based line, character in the
    client's position encoding); command arguments of every plugin use it."""

    line: int = attrs.field(validator=_non_negative)
    character: int = attrs.field(validator=_non_negative)

    def to_lsp(self) -> types.Position:
        """The lsprotocol Position."""
        return types.Position(line=self.line, character=self.character)

    @classmethod
    def at_line_column(cls, document: TextDocument, line: int, column: int) -> PositionArgument:
        """The position of ``line`` and ``column`` as an editor shows them (both from 1, the
        column in characters) in ``document``, in its negotiated encoding; clamped to the
        end of the line, or of the document, as an LSP position past the end is."""
        position = line_column_position(document, line, column)
        return cls(line=position.line, character=position.character)


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
    converter.register_structure_hook(FilePath, _structure_path)
    converter.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return converter


def _strict(kind: type, accepts: tuple[type, ...]) -> Callable[[Any, type], Any]:
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}

    def structure(value: Any, _: type) -> Any:
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, accepts):
            raise TypeError(f"expected {names[kind]}, got {shorten(value, quoted=True)}")
        value = kind(value)
        _check_bounds(value)
        return value

    return structure


def _check_bounds(value: Any) -> None:
    """Refuse what no plugin can use: numbers out of range, strings no file can hold."""
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
        raise ValueError(f"must be between {-MAX_INTEGER - 1} and {MAX_INTEGER}")
    if isinstance(value, float) and not abs(value) <= MAX_INTEGER:  # also NaN, inf
        raise ValueError(f"must be a finite number between -{MAX_INTEGER} and {MAX_INTEGER}")
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            raise ValueError(
                f"is {len(value):,} characters long; the limit is {MAX_STRING_CHARS:,}"
            )
        if "\0" in value:
            raise ValueError("contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"contains a lone surrogate ({value[exc.start]!a} at {exc.start}), which is not "
                "text any file can hold; send valid UTF-16 pairs"
            ) from None


def _structure_path(value: Any, _: type) -> str:
    text = _strict(str, (str,))(value, str)
    encoded = os.fsencode(text)
    if not encoded:
        raise ValueError("is empty; name a file")
    if len(encoded) > MAX_PATH_BYTES:
        raise ValueError(f"is {len(encoded):,} bytes long; paths are at most {MAX_PATH_BYTES}")
    longest = max(encoded.split(b"/"), key=len)
    if len(longest) > MAX_NAME_BYTES:
        raise ValueError(
            f"has a name of {len(longest)} bytes ({shorten(os.fsdecode(longest), quoted=True)}); "
            f"file names are at most {MAX_NAME_BYTES}"
        )
    return text


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
            f"{command_id} takes a JSON object as its argument, got {_json_kind(value)}"
        )
    try:
        return converter().structure(value, cls)
    except cattrs.BaseValidationError as exc:
        # Name fields as the client spells them (camelCase), not as Python does.
        problems = [
            re.sub(r"(?<=arguments\.)\w+", lambda m: camel(m.group(0)), problem)
            for problem in cattrs.transform_error(
                exc, path="arguments", format_exception=_describe_problem
            )
        ]
        raise InvalidArguments(f"{command_id}: " + "; ".join(problems)) from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidArguments(f"{command_id}: arguments: {exc}") from None


def _describe_problem(exc: BaseException, kind: type | None) -> str:
    # Our own checks say what is wrong; cattrs' default would only say "invalid value".
    if type(exc) is ValueError and exc.args:
        return str(exc)
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        names = ", ".join(shorten(name, quoted=True) for name in sorted(exc.extra_fields)[:5])
        more = len(exc.extra_fields) - 5
        return f"extra fields found ({names}" + (f" and {more} more)" if more > 0 else ")")
    return cattrs.v.format_exception(exc, kind)


def _json_kind(value: Any) -> str:
    kinds = {str: "a string", bool: "true or false", int: "a number", float: "a number"}
    if isinstance(value, list):
        return "a list"
    return kinds.get(type(value), type(value).__name__)


def unstructure_result(result: Any) -> Any:
    """A handler's answer as JSON-ready data (attrs classes become camelCase objects)."""
    if result is None:
        return {}
    return converter().unstructure(result)


class CommandTable:
    """Commands by id, with one dispatcher that validates and maps errors."""

    def __init__(self) -> None:
        self._entries: dict[str, CommandEntry] = {}

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
            # One call's bug is that call's error: the plugin keeps serving the others.
            # Only the exception is logged, never the arguments (they may be dictated text).
            logger.error("command %s of plugin %s failed", command_id, entry.owner, exc_info=exc)
            raise JsonRpcInternalError(
                message=f"{command_id} failed inside plugin {entry.owner}: "
                f"{type(exc).__name__}: {_cut(str(exc))} (a bug: the plugin goes on serving; "
                "the traceback is in Butler's log)"
            ) from None


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} chars)"
