"""Spaces around dictated words: on both sides when they land mid-line, never two.

``join`` (voice_input's spacing) sees the document on both sides of the cursor; the session
passes it both, so every editor gets the same spacing.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types

from butler_ls.host.editing import Anchor
from tests.helpers import load_plugin_module
from tests.unit.test_voice_session import URI, Editor, feed, finish, make_session

join = load_plugin_module("voice_input", "voice_commands").join

# (line before the cursor, what was said, line after the cursor, the line afterwards)
SPACING = [
    # Before a word: a space after the words.
    ("", "Three meters.", "draft text", "Three meters. draft text"),
    ("Notes: ", "three meters", "draft text", "Notes: three meters draft text"),
    # After a word: a space before them.
    ("I went", "home", "", "I went home"),
    # Between words with one space already, on either side: still one space each.
    ("one ", "new", "two", "one new two"),
    ("one", "new", " two", "one new two"),
    ("one", "new", "two", "one new two"),
    # Before punctuation: none before the mark.
    ("It rained", "all day", ".", "It rained all day."),
    ("Apples", "pears", ", plums", "Apples pears, plums"),
    ("Why", "not", "?", "Why not?"),
    ("(see", "above", ")", "(see above)"),
    ('He said "hi', "there", '"', 'He said "hi there"'),
    # At the line end, at the line start.
    ("Buy milk", "and eggs", "\nNext line", "Buy milk and eggs\nNext line"),
    ("", "call Bob", "", "Call Bob"),
    ("", "call Bob", "and Ann", "Call Bob and Ann"),
    # Words that end with a line break or an opening bracket take no space after them.
    ("Plans", "first\n", "draft", "Plans first\ndraft"),
    ("Say", "(", "this", "Say (this"),
    ('He said "', "hi", "there", 'He said "hi there'),
    ("He said", '"', "hi", 'He said "hi'),
]


@pytest.mark.parametrize(("before", "said", "after", "line"), SPACING)
def test_spacing_around_dictated_words(before: str, said: str, after: str, line: str) -> None:
    assert before + join(before, said, after) + after == line


def test_words_after_a_dictation_that_ended_with_a_space_take_none_before_them() -> None:
    # A second utterance lands after the first one's trailing space.
    first = join("Notes:", "three meters.", "draft")
    assert first == " three meters. "
    assert join("Notes:" + first, "then two", "draft") == "Then two "


WORDS = st.text(alphabet="ab .,?!\n-()\"'", max_size=10)
SAID = st.text(alphabet="abAB .,?!\n-", max_size=10)


@settings(max_examples=500)
@given(WORDS, SAID, WORDS)
def test_never_two_spaces_where_the_words_meet_the_text(before, said, after) -> None:
    inserted = join(before, said, after)
    if not inserted:
        return
    line = before + inserted + after
    joint = len(before) + len(inserted)
    # No space is added next to one that was there.
    if before[-1:] == " ":
        assert not inserted.startswith(" ")
    if after[:1] == " ":
        assert not inserted.endswith(" ") or said.rstrip(" ") != said
    # Never a space added before closing punctuation.
    if after[:1] in (",", ".", "?", "!", ")"):
        assert line[joint - 1 : joint] != " " or said.rstrip(" ") != said
    # A word goes on after the words: never stuck to them.
    if after[:1].isalpha() and inserted[-1:].isalpha():
        raise AssertionError(f"stuck: {line!r}")


async def test_dictating_mid_line_in_a_document_spaces_both_sides(tmp_path) -> None:
    editor = Editor("Length: draft text\n")
    session, _, _ = make_session(
        tmp_path, editor, {0: (0.0, "Three meters."), 1: (0.0, "Then two.")}
    )
    session.anchor.detach()
    # The cursor before "draft", as a user puts it between two words.
    session.anchor = Anchor(editor, URI, types.Position(line=0, character=8))
    await session.start()
    await asyncio.to_thread(feed, session, 0)
    await asyncio.to_thread(feed, session, 1)
    await finish(session)
    assert editor.document.source == "Length: three meters. Then two. draft text\n"
