"""``butler.dictation.start`` by ``path``, ``line`` and ``column``: the document found
among the open ones, and the place turned into a position in the negotiated encoding."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from butler_ls.host.hosting import CommandEntry
from butler_ls.lsp.command_table import CommandTable, structure_arguments
from butler_ls.lsp.server import ButlerServer
from butler_ls.util.errors import InvalidArguments
from tests.helpers import load_plugin_module

StartArguments = load_plugin_module("voice_input", "plugin").StartArguments

TEXT = "# Draft\ncafé 🎉 x\r\nlast"


class Editor:
    """What ``on_document`` asks of the plugin context, with the server's own matching
    of paths to open documents."""

    def __init__(self, root: Path | None, *documents: TextDocument) -> None:
        self.root = root
        self.workspace = SimpleNamespace(text_documents={d.uri: d for d in documents})

    def workspace_root(self) -> Path | None:
        return self.root

    def document(self, uri: str) -> TextDocument | None:
        return self.workspace.text_documents.get(uri)

    def document_for_path(self, path: Path) -> TextDocument | None:
        return ButlerServer.document_for_path(self, path)  # type: ignore[arg-type]


def arguments(**value: object) -> object:
    """The argument object structured and checked as the server does before starting."""
    args = structure_arguments([value], StartArguments, "butler.dictation.start")
    args.check()
    return args


def draft(folder: Path, encoding: types.PositionEncodingKind | None = None) -> TextDocument:
    codec = PositionCodec(encoding=encoding) if encoding else PositionCodec()
    return TextDocument((folder / "notes" / "draft.md").as_uri(), TEXT, position_codec=codec)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.mark.parametrize(
    "path",
    ["{home}/notes/draft.md", "~/notes/draft.md", "notes/draft.md", "notes/../notes/draft.md"],
)
def test_a_path_names_the_open_document(home: Path, path: str):
    document = draft(home)
    editor = Editor(home, document, draft(home / "elsewhere"))
    args = arguments(path=path.format(home=home)).on_document(editor)
    assert args.uri == document.uri and args.path is None
    assert args.position is None  # the end, as with a uri alone


def test_a_relative_path_starts_at_the_workspace_folder(home: Path):
    document = draft(home / "project")
    editor = Editor(home / "project", draft(home), document)
    assert arguments(path="notes/draft.md").on_document(editor).uri == document.uri


def test_a_path_that_is_not_open_is_refused_like_a_uri(home: Path):
    editor = Editor(home, draft(home))
    with pytest.raises(InvalidArguments) as refused:
        arguments(path="notes/other.md", line=1).on_document(editor)
    assert str(refused.value) == (
        f"path: {home / 'notes' / 'other.md'} is not open in the editor; open it first, "
        "or use target 'dailyNote'"
    )


@pytest.mark.parametrize(
    ("encoding", "line", "column", "character"),
    [
        # "café 🎉 x": é is 1 UTF-16 unit and 2 UTF-8 bytes, 🎉 2 units and 4 bytes.
        (types.PositionEncodingKind.Utf16, 2, 5, 4),
        (types.PositionEncodingKind.Utf16, 2, 8, 8),
        (types.PositionEncodingKind.Utf8, 2, 5, 5),
        (types.PositionEncodingKind.Utf8, 2, 8, 11),
        (types.PositionEncodingKind.Utf32, 2, 8, 7),
        (types.PositionEncodingKind.Utf16, 1, 1, 0),
    ],
)
def test_line_and_column_become_a_position_in_the_encoding(
    home: Path, encoding: types.PositionEncodingKind, line: int, column: int, character: int
):
    document = draft(home, encoding)
    args = arguments(path="notes/draft.md", line=line, column=column).on_document(
        Editor(home, document)
    )
    assert args.position.to_lsp() == types.Position(line - 1, character)
    # Whatever the encoding, the same place: column - 1 characters into the line.
    offset = document.offset_at_position(args.position.to_lsp())
    assert offset == TEXT.index(TEXT.split("\n")[line - 1]) + column - 1


def test_line_and_column_work_with_a_uri_too(home: Path):
    document = draft(home)
    args = arguments(uri=document.uri, line=2).on_document(Editor(home, document))
    assert args.position.to_lsp() == types.Position(1, 0)  # column 1 by default


@pytest.mark.parametrize(
    ("line", "column", "utf16", "utf8"),
    [
        (2, 99, (1, 9), (1, 12)),  # past the line's end: before its \r\n
        (3, 99, (2, 4), (2, 4)),  # the last line, without a newline
        (99, 1, (2, 4), (2, 4)),  # past the document's end: its end
        (2**31 - 1, 2**31 - 1, (2, 4), (2, 4)),
    ],
)
def test_a_place_past_the_end_is_clamped_to_it(
    home: Path, line: int, column: int, utf16: tuple[int, int], utf8: tuple[int, int]
):
    for encoding, expected in ((types.PositionEncodingKind.Utf16, utf16),
                               (types.PositionEncodingKind.Utf8, utf8)):  # fmt: skip
        editor = Editor(home, draft(home, encoding))
        args = arguments(path="notes/draft.md", line=line, column=column).on_document(editor)
        assert args.position.to_lsp() == types.Position(*expected), encoding


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"uri": "file:///n.md", "path": "n.md"}, "uri, path: both name the document"),
        ({"path": "n.md", "position": {"line": 0, "character": 0}, "line": 1},
         "position, line/column: both say where"),
        ({"path": "n.md", "position": {"line": 0, "character": 0}, "column": 3},
         "position, line/column: both say where"),
        ({"path": "n.md", "line": 0}, "line: counts from 1, not 0"),
        ({"path": "n.md", "line": 1, "column": 0}, "column: counts from 1, not 0"),
        ({"path": "n.md", "column": 4}, "column: needs line as well"),
        ({"path": "", "line": 1}, "is empty; name a file @ arguments.path"),
        ({"path": "n.md", "line": "3"}, "@ arguments.line"),
    ],
)  # fmt: skip
def test_conflicts_and_bad_places_are_invalid_params(value: dict, says: str):
    table = CommandTable()
    table.add(
        CommandEntry(
            id="butler.dictation.start",
            owner="voice_input",
            handler=lambda args: args.check(),
            arguments=StartArguments,
        )
    )
    with pytest.raises(JsonRpcInvalidParams) as refused:
        asyncio.run(table.execute("butler.dictation.start", [value], None))
    assert says in refused.value.message


def test_a_voice_note_ignores_the_document(home: Path):
    args = arguments(target="dailyNote", path="notes/missing.md", line=3)
    assert args.on_document(Editor(home)) is args
