"""Offsets into a document's text as LSP positions, in the client's code units.

pygls' ``client_position_at_offset`` puts the end of a last line without a newline on
the line after it; edits there would land outside the document.
"""

from __future__ import annotations

from lsprotocol import types
from pygls.workspace import TextDocument


def client_position(document: TextDocument, offset: int) -> types.Position:
    """The position of ``offset`` (an index into ``document.source``) for the client."""
    source = document.source
    offset = max(0, min(offset, len(source)))
    line = source.count("\n", 0, offset)
    line_start = source.rfind("\n", 0, offset) + 1
    units = document.position_codec.client_num_units(source[line_start:offset])
    return types.Position(line=line, character=units)


def line_column_position(document: TextDocument, line: int, column: int) -> types.Position:
    """The client position of ``line`` and ``column`` (both from 1, the column counted in
    characters, i.e. code points); past the end of a line or of the document, that end.

    Editors show a cursor's place this way (Helix' ``%{cursor_line}``, ``%{cursor_column}``),
    and, as with an LSP position past the end, the text goes where the editor would put it.
    """
    source = document.source
    start = 0
    for _ in range(max(line, 1) - 1):  # stops at the last line: never more turns than lines
        newline = source.find("\n", start)
        if newline == -1:
            return client_position(document, len(source))
        start = newline + 1
    end = source.find("\n", start)
    end = len(source) if end == -1 else end
    if source.startswith("\r", end - 1) and end > start:
        end -= 1  # a CRLF line ends before its \r
    return client_position(document, min(start + max(column, 1) - 1, end))
