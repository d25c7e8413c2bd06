"""The anchor that streamed text follows: it shifts with the edits made before it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from lsprotocol import types
from pygls.workspace import TextDocument

from butler_ls.host import events
from butler_ls.host.editing import Anchor
from butler_ls.util.errors import ButlerError

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


class Editor:
    """A fake client: applies Butler's edits to the document and reports them back."""

    def __init__(self, document: TextDocument) -> None:
        self.document = document
        self.workspace = SimpleNamespace(text_documents={URI: document})
        self.client_capabilities = types.ClientCapabilities()

    async def workspace_apply_edit_async(self, params: types.ApplyWorkspaceEditParams):
        (text_edit,) = params.edit.changes[URI]
        edit(self.document, *_range(text_edit.range), text_edit.new_text)
        return types.ApplyWorkspaceEditResult(applied=True)


def _range(r: types.Range) -> tuple[tuple[int, int], tuple[int, int]]:
    return (r.start.line, r.start.character), (r.end.line, r.end.character)


async def test_a_tracked_span_is_deleted_wherever_the_user_moved_it():
    document = TextDocument(URI, "Intro.\nOutro.", version=1)
    anchor = Anchor(Editor(document), URI, types.Position(0, 6))
    try:
        await anchor.insert(" One.", track=True)
        span = await anchor.insert(" Two.", track=True)
        edit(document, (0, 0), (0, 0), "Typed above. ")  # before both
        edit(document, (0, 29), (0, 29), " typed after")  # right after the span: not in it
        edit(document, (1, 0), (1, 0), "below ")
        assert document.source == "Typed above. Intro. One. Two. typed after\nbelow Outro."
        await anchor.delete(span)
        assert document.source == "Typed above. Intro. One. typed after\nbelow Outro."
        # Text typed at the dictation point is the user's: dictation continues after it.
        await anchor.insert(" Three.")
        assert document.source == "Typed above. Intro. One. typed after Three.\nbelow Outro."
    finally:
        anchor.detach()


async def test_text_typed_right_at_the_start_of_a_span_stays_outside_it():
    document = TextDocument(URI, "ab", version=1)
    anchor = Anchor(Editor(document), URI, types.Position(0, 1))
    try:
        span = await anchor.insert("XY", track=True)
        edit(document, (0, 1), (0, 1), "u")  # typed just before the inserted text
        assert document.source == "auXYb"
        await anchor.delete(span)
        assert document.source == "aub"
    finally:
        anchor.detach()


async def test_an_edit_the_editor_refuses_is_recomputed_and_sent_again():
    document = TextDocument(URI, "Title\nBody: ", version=1)

    class Busy(Editor):
        refused = 0

        async def workspace_apply_edit_async(self, params):
            if not self.refused:
                # The user typed at the top while the edit was on its way: the editor
                # refuses the stale edit, as a versioned editor does.
                self.refused += 1
                edit(self.document, (0, 0), (0, 0), "My ")
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="version")
            return await super().workspace_apply_edit_async(params)

    editor = Busy(document)
    anchor = Anchor(editor, URI, None)
    try:
        await anchor.insert("spoken words")
        assert editor.refused == 1
        assert document.source == "My Title\nBody: spoken words"
    finally:
        anchor.detach()
