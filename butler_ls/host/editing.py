"""Writing into open documents: an anchor that follows the user's edits, and inserts there.

The anchor keeps a shadow of the document and shifts with every ``didChange``, so text
streamed in (a transcript, dictation) lands where it belongs while the user types.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs
from lsprotocol import types
from pygls.workspace import TextDocument

from butler_ls.host import events
from butler_ls.host.positions import client_position
from butler_ls.util.errors import ButlerError

logger = logging.getLogger(__name__)

EDIT_ATTEMPTS = 5


class EditClient(Protocol):
    """What editing needs of the server: open documents, capabilities, ``applyEdit``."""

    @property
    def workspace(self) -> Any:
        """Holds ``text_documents``, the open documents by uri."""
        ...

    @property
    def client_capabilities(self) -> types.ClientCapabilities:
        """What the client said it supports (versioned edits or not)."""
        ...

    async def workspace_apply_edit_async(
        self, params: types.ApplyWorkspaceEditParams
    ) -> types.ApplyWorkspaceEditResult:
        """``workspace/applyEdit``."""
        ...


class EditRefused(ButlerError):
    """The editor refused an edit every time it was sent."""

    def __init__(self, uri: str, attempts: int) -> None:
        super().__init__(f"the editor refused to change {uri} {attempts} times")
        self.uri = uri
        self.attempts = attempts


class DocumentClosed(ButlerError):
    """The document was closed while text was still going into it."""


class Mark:
    """An offset that follows the edits; ``stay``: text inserted right at it goes after it."""

    __slots__ = ("offset", "stay")

    def __init__(self, offset: int, *, stay: bool) -> None:
        self.offset = offset
        self.stay = stay


@attrs.frozen(eq=False)
class Span:
    """Text Butler inserted, from ``start`` to ``end``, as it moves with the user's edits."""

    start: Mark
    end: Mark


def _shift(offset: int, start: int, end: int, length: int, *, stay: bool) -> int:
    """Where ``offset`` goes when ``[start, end)`` is replaced by ``length`` characters."""
    if stay and start == end == offset:
        return offset
    if end <= offset:
        return offset + length - (end - start)
    if start < offset:
        # The text around the offset was replaced: continue after the new text.
        return start + length
    return offset


class Anchor:
    """An offset in an open document that moves with the edits made before it."""

    def __init__(self, client: EditClient, uri: str, position: types.Position | None) -> None:
        document = client.workspace.text_documents.get(uri)
        if document is None:
            raise ButlerError(f"{uri} is not open in the editor; open it first")
        self._client = client
        self.uri = uri
        self._shadow = TextDocument(uri, document.source, position_codec=document.position_codec)
        if position is None:
            self.offset = len(document.source)
        else:
            self.offset = document.offset_at_position(position)
        self.closed = False
        self._marks: list[Mark] = []
        events.document_changed.connect(self._changed, weak=False)
        events.document_closed.connect(self._closed, weak=False)

    def detach(self) -> None:
        """Stop following the document."""
        events.document_changed.disconnect(self._changed)
        events.document_closed.disconnect(self._closed)

    def _changed(self, sender: Any, *, uri: str, changes: Any, version: Any) -> None:
        if uri != self.uri:
            return
        for change in changes:
            if not isinstance(change, types.TextDocumentContentChangePartial):
                # A whole-document replacement: keep the same offsets, clamped.
                self._shadow = TextDocument(
                    self.uri, change.text, position_codec=self._shadow.position_codec
                )
                self.offset = min(self.offset, len(change.text))
                for mark in self._marks:
                    mark.offset = min(mark.offset, len(change.text))
                continue
            start = self._shadow.offset_at_position(change.range.start)
            end = self._shadow.offset_at_position(change.range.end)
            self.offset = _shift(self.offset, start, end, len(change.text), stay=False)
            for mark in self._marks:
                mark.offset = _shift(mark.offset, start, end, len(change.text), stay=mark.stay)
            self._shadow.apply_change(change)

    def _closed(self, sender: Any, *, uri: str) -> None:
        if uri == self.uri:
            self.closed = True

    def text_before(self, limit: int = 400) -> str:
        """The document text just before the anchor (for spacing and context)."""
        source = self._shadow.source
        return source[max(0, self.offset - limit) : self.offset]

    def text_after(self, limit: int = 50) -> str:
        """The document text just after the anchor."""
        return self._shadow.source[self.offset : self.offset + limit]

    async def insert(self, text: str, label: str = "Butler", *, track: bool = False) -> Span:
        """Insert ``text`` at the anchor (versioned edit, retried if the editor refuses).

        Returns the span of the inserted text; with ``track`` it keeps following the edits
        (for ``delete``), and text the user types right before or after it stays outside it.
        """
        await self._edit(lambda: (self.offset, self.offset), text, label)
        span = Span(Mark(self.offset - len(text), stay=False), Mark(self.offset, stay=True))
        if track:
            self._marks.extend((span.start, span.end))
        return span

    async def delete(self, span: Span, label: str = "Butler") -> None:
        """Remove the text of ``span`` (whatever it has become) from the document."""
        if span.end.offset != span.start.offset:
            await self._edit(lambda: sorted((span.start.offset, span.end.offset)), "", label)
        self.forget(span)

    def forget(self, span: Span) -> None:
        """Stop following ``span``."""
        self._marks = [mark for mark in self._marks if mark not in (span.start, span.end)]

    async def _edit(self, where: Callable[[], Sequence[int]], text: str, label: str) -> None:
        """Replace the range ``where()`` gives with ``text``; asked again at each attempt,
        since the user's edits move it while a refused edit comes back."""

        def plan(document: TextDocument) -> types.TextEdit:
            if self.closed:
                raise DocumentClosed(f"{self.uri} was closed")
            start, end = where()
            return types.TextEdit(
                range=types.Range(client_position(document, start), client_position(document, end)),
                new_text=text,
            )

        def in_step(document: TextDocument) -> bool:
            # A change still on its way to us must arrive before the range is planned.
            return self.closed or document.source == self._shadow.source

        if not await apply_edit(self._client, self.uri, plan, label=label, ready=in_step):
            raise DocumentClosed(f"{self.uri} was closed")

    def position(self) -> types.Position | None:
        """The anchor as a position in the client's encoding (None once the document closed)."""
        document = self._client.workspace.text_documents.get(self.uri)
        if document is None or document.source != self._shadow.source:
            document = self._shadow
        return client_position(document, min(self.offset, len(document.source)))


async def apply_edit(
    client: EditClient,
    uri: str,
    plan: Callable[[TextDocument], types.TextEdit | None],
    *,
    label: str = "Butler",
    ready: Callable[[TextDocument], bool] | None = None,
    attempts: int = EDIT_ATTEMPTS,
) -> bool:
    """Apply the edit ``plan`` makes of open document ``uri``: versioned, retried if refused.

    ``plan`` gets the document as it is at each attempt (the user's typing moves things
    while a refused edit comes back) and returns the edit, or None when there is nothing
    to do. ``ready`` may hold the edit back until the document is as expected (each wait
    is an attempt). Returns False when ``uri`` is not open; returns True once the editor's
    change for the edit has arrived, so the next edit is planned on the new text; raises
    EditRefused when the editor refused every attempt.
    """
    for _ in range(attempts):
        document = client.workspace.text_documents.get(uri)
        if document is None:
            return False
        if ready is not None and not ready(document):
            await asyncio.sleep(0.01)
            continue
        edit = plan(document)
        if edit is None:
            return True
        version = document.version
        result = await client.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=workspace_edit(client, document, edit), label=label)
        )
        if result.applied:
            await _wait_past(client, uri, version)
            return True
        logger.info("the editor refused an edit (%s); retrying", result.failure_reason)
        await asyncio.sleep(0.05)
    raise EditRefused(uri, attempts)


async def _wait_past(client: EditClient, uri: str, version: int | None) -> None:
    """Let the editor's didChange for our edit arrive (up to a second)."""
    for _ in range(200):
        document = client.workspace.text_documents.get(uri)
        if document is None or document.version != version:
            return
        await asyncio.sleep(0.005)


def workspace_edit(
    client: EditClient, document: TextDocument, edit: types.TextEdit
) -> types.WorkspaceEdit:
    """One edit of ``document``, versioned when the client supports documentChanges."""
    caps = client.client_capabilities.workspace
    if caps and caps.workspace_edit and caps.workspace_edit.document_changes:
        identifier = types.OptionalVersionedTextDocumentIdentifier(
            uri=document.uri, version=document.version
        )
        return types.WorkspaceEdit(
            document_changes=[types.TextDocumentEdit(text_document=identifier, edits=[edit])]
        )
    return types.WorkspaceEdit(changes={document.uri: [edit]})
