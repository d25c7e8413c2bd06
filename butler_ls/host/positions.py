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
