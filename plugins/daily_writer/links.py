"""``[[`` link completion: typing ``[[`` offers the daily notes, so notes connect.

Pure: works on a document's text and the list of note names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from butler_ls.plugin_api import client_position

if TYPE_CHECKING:
    from pygls.workspace import TextDocument

MAX_ITEMS = 500


def open_link(line_before_cursor: str) -> str | None:
    """The partial name typed after an unclosed ``[[`` on this line, or None."""
    start = line_before_cursor.rfind("[[")
    if start < 0:
        return None
    partial = line_before_cursor[start + 2 :]
    if "]]" in partial or "[" in partial:
        return None
    return partial


def link_completions(
    document: TextDocument, offset: int, names: list[str]
) -> list[types.CompletionItem]:
    """Completion items for the note names, replacing what was typed after ``[[``."""
    source = document.source
    line_start = source.rfind("\n", 0, offset) + 1
    partial = open_link(source[line_start:offset])
    if partial is None:
        return []
    line_end = source.find("\n", offset)
    after = source[offset : line_end if line_end >= 0 else len(source)]
    closing = "" if after.startswith("]]") else "]]"
    start = client_position(document, offset - len(partial))
    end = client_position(document, offset)
    items = []
    for rank, name in enumerate(sorted(names, reverse=True)[:MAX_ITEMS]):
        items.append(
            types.CompletionItem(
                label=name,
                kind=types.CompletionItemKind.File,
                detail="daily note",
                filter_text=name,
                sort_text=f"{rank:05d}",
                text_edit=types.TextEdit(
                    range=types.Range(start=start, end=end), new_text=name + closing
                ),
            )
        )
    return items
