"""Command arguments: one JSON object, structured strictly, errors naming the field."""

from __future__ import annotations

import asyncio

import attrs
import pytest
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams

from butler_ls.lsp.command_table import (
    CommandEntry,
    CommandTable,
    FilePath,
    PositionArgument,
    structure_arguments,
    unstructure_result,
)
from butler_ls.util.errors import ButlerError, InvalidArguments


@attrs.frozen
class Args:
    path: str
    start_time: float = 0.0
    speed: float | None = None
    keep: bool = False


def test_camel_case_fields_and_defaults():
    args = structure_arguments([{"path": "/a", "startTime": 2}], Args, "x.y")
    assert args == Args(path="/a", start_time=2.0)


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ([{}], "path"),
        ([{"path": 1}], "arguments.path"),
        ([{"path": "a", "keep": "yes"}], "arguments.keep"),
        ([{"path": "a", "speed": "fast"}], "arguments.speed"),
        ([{"path": "a", "start_time": 1}], "start_time"),
        ([[1, 2]], "JSON object"),
        ([{"path": "a"}, {}], "at most one argument"),
    ],
)
def test_bad_arguments_name_the_field(arguments, words):
    with pytest.raises(InvalidArguments) as caught:
        structure_arguments(arguments, Args, "x.y")
    assert words in str(caught.value)
    assert str(caught.value).startswith("x.y")


def test_no_argument_commands_take_nothing_or_an_empty_object():
    structure_arguments(None, None, "c")
    structure_arguments([], None, "c")
    structure_arguments([None], None, "c")
    structure_arguments([{}], None, "c")
    with pytest.raises(InvalidArguments, match="extra"):
        structure_arguments([{"x": 1}], None, "c")


def test_results_become_camel_case_objects():
    assert unstructure_result(Args(path="p", start_time=1.5)) == {
        "path": "p",
        "startTime": 1.5,
        "keep": False,
    }
    assert unstructure_result(None) == {}
    assert unstructure_result({"a": 1}) == {"a": 1}


def run(coro):
    return asyncio.run(coro)


def test_table_maps_errors_and_the_owner_keeps_serving():
    table = CommandTable()
    table.add(CommandEntry("t.ok", "p", lambda a: {"path": a.path}, Args))
    table.add(CommandEntry("t.user", "p", _raise(ButlerError("the notes folder is gone"))))
    table.add(CommandEntry("t.bug", "p", _raise(KeyError("k"))))
    table.add(CommandEntry("t.thread", "p", lambda a: {"ok": True}, thread=True))
    assert run(table.execute("t.ok", [{"path": "x"}], None)) == {"path": "x"}
    assert run(table.execute("t.thread", [], None)) == {"ok": True}
    with pytest.raises(JsonRpcInvalidParams):
        run(table.execute("t.ok", [{"path": 2}], None))
    with pytest.raises(JsonRpcException, match="notes folder is gone") as user:
        run(table.execute("t.user", [], None))
    assert user.value.code == -32803
    with pytest.raises(JsonRpcInternalError, match=r"KeyError.*plugin goes on serving"):
        run(table.execute("t.bug", [], None))
    # A bug in one command is that request's error only: its plugin's commands still run.
    assert run(table.execute("t.ok", [{"path": "y"}], None)) == {"path": "y"}
    assert table.get("t.bug") is not None
    with pytest.raises(JsonRpcException, match="plugin p is failed"):
        run(table.execute("t.gone", [], "plugin p is failed"))


def test_duplicate_command_ids_are_refused():
    table = CommandTable()
    table.add(CommandEntry("t.a", "one", lambda a: None))
    with pytest.raises(ButlerError, match="already registered by one"):
        table.add(CommandEntry("t.a", "two", lambda a: None))
    assert table.remove_owner("one") == ["t.a"]
    table.add(CommandEntry("t.a", "two", lambda a: None))


def test_async_handlers_are_awaited():
    table = CommandTable()

    async def handler(_):
        await asyncio.sleep(0)
        return {"done": True}

    table.add(CommandEntry("t.async", "p", handler))
    assert run(table.execute("t.async", [], None)) == {"done": True}


def _raise(exc):
    def handler(_):
        raise exc

    return handler


def test_errors_name_fields_as_the_client_spells_them():
    with pytest.raises(InvalidArguments, match=r"arguments\.startTime"):
        structure_arguments([{"path": "a", "startTime": "soon"}], Args, "x.y")


@attrs.frozen
class Bounded:
    text: str = ""
    count: int = 0
    speed: float = 1.0
    file: FilePath | None = None
    position: PositionArgument | None = None


@pytest.mark.parametrize(
    ("argument", "words"),
    [
        ({"count": 2**31}, "arguments.count"),
        ({"count": -(2**31) - 1}, "arguments.count"),
        ({"count": 10**4400}, "arguments.count"),
        ({"speed": 1e300}, "arguments.speed"),
        ({"text": "\ud800"}, "lone surrogate"),
        ({"text": "a\x00b"}, "NUL"),
        ({"text": "x" * 1_000_001}, "1,000,001 characters"),
        ({"file": "a" * 256}, "256 bytes"),
        ({"file": "/" + "d/" * 2100}, "paths are at most 4096"),
        ({"file": ""}, "empty"),
        ({"file": "x\x00"}, "NUL"),
        ({"position": {"line": -1, "character": 0}}, "line"),
        ({"position": {"line": 0, "character": 2**31}}, "character"),
    ],
)
def test_every_value_is_bounded_before_a_handler_sees_it(argument, words):
    with pytest.raises(InvalidArguments) as caught:
        structure_arguments([argument], Bounded, "x.y")
    assert words in str(caught.value)
    # The message repeats at most a short piece of the value (it is logged and shown).
    assert len(str(caught.value)) < 400


def test_values_within_bounds_pass():
    args = structure_arguments(
        [
            {
                "text": "é ✓ 𝄞",
                "count": 2**31 - 1,
                "file": "a" * 255,
                "position": {"line": 2**31 - 1, "character": 0},
            }
        ],
        Bounded,
        "x.y",
    )
    assert args.file == "a" * 255 and args.position.line == 2**31 - 1


@pytest.mark.parametrize("value", [5, True, "x", [1], None])
def test_an_argument_that_is_no_object_names_its_kind(value):
    if value is None:
        assert structure_arguments([value], Bounded, "x.y") == Bounded()
        return
    with pytest.raises(InvalidArguments, match="takes a JSON object"):
        structure_arguments([value], Bounded, "x.y")
