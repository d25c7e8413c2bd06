"""The anchor that streamed text follows: it shifts with the edits made before it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from lsprotocol import types
from pygls.workspace import TextDocument

from butler_ls import events
from butler_ls.editing import Anchor
from butler_ls.errors import ButlerError

URI = "file:///draft.md"


def make(text: str, line: int, character: int) -> tuple[Anchor, TextDocument]:
    document = TextDocument(URI, text, version=1)
    server = SimpleNamespace(workspace=SimpleNamespace(text_documents={URI: document}))
    return Anchor(server, URI, types.Position(line, character)), document


def edit(document: TextDocument, start: tuple[int, int], end: tuple[int, int], text: str):
    change = types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(*start), types.Position(*end)), text=text
    )
    document.apply_change(change)
    events.emit(events.document_changed, None, uri=URI, changes=[change], version=2)


def test_edits_before_the_anchor_move_it_and_edits_after_do_not():
    anchor, document = make("Title\n\nNotes: \n\nEnd\n", 2, 7)
    try:
        assert anchor.text_before(7) == "Notes: "
        edit(document, (0, 0), (0, 0), "My ")  # typed above
        assert anchor.text_before(7) == "Notes: " and anchor.text_after(3) == "\n\nE"
        edit(document, (4, 0), (4, 3), "Fin")  # typed below
        assert anchor.text_after(6) == "\n\nFin\n"
        edit(document, (2, 0), (2, 5), "Ideas")  # replaced before, on the same line
        assert anchor.text_before(7) == "Ideas: "
        edit(document, (2, 7), (2, 7), "spoken")  # our own insertion: the anchor follows it
        assert anchor.text_before(6) == "spoken"
    finally:
        anchor.detach()


def test_a_replacement_around_the_anchor_continues_after_the_new_text():
    anchor, document = make("abc def", 0, 5)
    try:
        edit(document, (0, 2), (0, 6), "XY")
        assert anchor.offset == 4 and anchor.text_before(4) == "abXY"
    finally:
        anchor.detach()


def test_other_documents_and_closing():
    anchor, _ = make("abc", 0, 3)
    try:
        events.emit(events.document_changed, None, uri="file:///other", changes=[], version=1)
        assert anchor.offset == 3
        events.emit(events.document_closed, None, uri=URI)
        assert anchor.closed
    finally:
        anchor.detach()


def test_a_document_that_is_not_open_is_refused():
    server = SimpleNamespace(workspace=SimpleNamespace(text_documents={}))
    with pytest.raises(ButlerError, match="is not open"):
        Anchor(server, URI, None)
