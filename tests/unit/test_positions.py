"""Offsets to client positions, including the end of a last line without a newline."""

from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from butler_ls.host.positions import client_position


def test_positions_in_utf16_units():
    document = TextDocument("file:///n.md", "a😀b\ncd")
    assert client_position(document, 0) == types.Position(0, 0)
    assert client_position(document, 2) == types.Position(0, 3)  # the emoji is 2 units
    assert client_position(document, 3) == types.Position(0, 4)
    assert client_position(document, 4) == types.Position(1, 0)
    assert client_position(document, 6) == types.Position(1, 2)  # end, no newline


def test_positions_in_utf32_units():
    codec = PositionCodec(encoding=types.PositionEncodingKind.Utf32)
    document = TextDocument("file:///n.md", "a😀b", position_codec=codec)
    assert client_position(document, 2) == types.Position(0, 2)


def test_offsets_are_clamped():
    document = TextDocument("file:///n.md", "ab\n")
    assert client_position(document, 99) == types.Position(1, 0)
    assert client_position(document, -1) == types.Position(0, 0)
