"""Spoken commands in a transcript ("new line", "comma", "scratch that"), fillers, per language.

``interpret`` turns one utterance into the text to insert; ``join`` fits it to the text before it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable
from itertools import pairwise
from typing import Any

import attrs

from .identifiers import Matcher, cased, letters
from .voice_rules import RULES, Rules, rules_for

__all__ = ["RULES", "Piece", "Rules", "interpret", "join", "rules_for"]


@attrs.frozen
class Piece:
    """What one utterance asks for."""

    text: str
    """Text to insert (may hold newlines), before ``join`` decides spacing and capitals."""

    scratch: bool = False
    """Remove the previous utterance first ("scratch that" with nothing before it)."""

    exact_start: bool = False
    """The text starts with a name (an identifier, a cased name) that keeps its capitals."""


_MODEL_PUNCT = ".,;:!?\u2026"
_TERMINAL = ".?!\u2026"
_APOSTROPHES = "'\u2019\u02bc"
_OPENING = "([{\u201c\u2018\u00ab\u00bf\u00a1"  # with curly quotes, guillemet, Spanish marks
_CLOSING = ",.;:!?\u2026)]}\u201d\u2019\u00bb%"
_WORD_CHAR = re.compile(r"\w")


@attrs.define
class _Chunk:
    """One whitespace-separated word of the transcript, split from its punctuation."""

    lead: str
    core: str
    trail: str
    cap: bool = False
    """A capitalised filler stood before it: the model meant this word to start a sentence."""

    key: str = attrs.field(
        init=False, default=attrs.Factory(lambda c: _key(c.core), takes_self=True)
    )
    """The core as phrases are compared."""


def _split(word: str) -> tuple[str, str, str]:
    """``"(Hello!)"`` as ``("(", "Hello", "!)")``: leading punctuation, the word, trailing."""
    first = _WORD_CHAR.search(word)
    if first is None:
        return word, "", ""
    end = len(word) - next(i for i, ch in enumerate(reversed(word)) if _WORD_CHAR.match(ch))
    return word[: first.start()], word[first.start() : end], word[end:]


def _key(text: str) -> str:
    # Whisper spells accents and apostrophes inconsistently ("linea", "d\u2019").
    text = unicodedata.normalize("NFKD", re.sub(f"[{_APOSTROPHES}]", "'", text))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()


def _table(pairs: Iterable[tuple[str, Any]]) -> tuple[dict[tuple[str, ...], Any], dict[str, Any]]:
    """Phrase words -> value, and the glued spelling of multi-word phrases ("newline")."""
    words: dict[tuple[str, ...], Any] = {}
    glued: dict[str, Any] = {}
    for phrase, value in pairs:
        key = tuple(_key(_split(word)[1]) for word in phrase.split())
        if key and all(key):
            words.setdefault(key, value)
            if len(key) > 1:
                glued.setdefault("".join(key), value)
    return words, glued


def _match(chunks: list[_Chunk], i: int, table: tuple[dict, dict]) -> tuple[int, Any] | None:
    """How many chunks from ``i`` spell a phrase of ``table``, and its value."""
    words, glued = table
    longest = max((len(key) for key in words), default=0)
    for n in range(min(longest, len(chunks) - i), 0, -1):
        window = chunks[i : i + n]
        # Punctuation inside a phrase means the model heard two thoughts, not one command.
        if any(a.trail or b.lead for a, b in pairwise(window)):
            continue
        value = words.get(tuple(c.key for c in window))
        if value is not None:
            return n, value
    value = glued.get(chunks[i].key.replace("-", ""))
    return None if value is None else (1, value)


def _drop_fillers(chunks: list[_Chunk], fillers: tuple[dict, dict]) -> list[_Chunk]:
    kept: list[_Chunk] = []
    lead, cap, i = "", False, 0
    while i < len(chunks):
        found = _match(chunks, i, fillers)
        if found is None:
            chunk = chunks[i]
            chunk.lead, chunk.cap = lead + chunk.lead, cap
            kept.append(chunk)
            lead, cap, i = "", False, i + 1
            continue
        first, last = chunks[i], chunks[i + found[0] - 1]
        i += found[0]
        lead += first.lead
        cap = cap or first.core[:1].isupper()
        # The comma after a filler marks the pause, not the sentence: it goes with the filler.
        rest = "".join(ch for ch in last.trail if ch not in ",;:")
        if kept and rest:
            if any(ch in _TERMINAL for ch in rest):
                kept[-1].trail = kept[-1].trail.rstrip(_MODEL_PUNCT)
            kept[-1].trail += rest
    return kept


@attrs.define
class _Item:
    """One unit of output: a word with its punctuation (or a lone mark), or a line break."""

    kind: str
    text: str
    trail: str = ""
    """The model's punctuation after the word, which a spoken mark replaces."""

    marks: str = ""
    """Marks the user spoke after the word: later ones add to these."""

    exact: bool = False
    """A name, written exactly: no capital at a sentence start, none taken away."""


@attrs.define
class _Output:
    """The utterance's text as it is built, with what the next word must carry."""

    keep: Collection[str]
    items: list[_Item] = attrs.Factory(list)
    lead: str = ""
    """Opening punctuation waiting for the next word."""

    case: str | None = None
    """``upper`` or ``lower`` for the next word's first letter, after a spoken mark."""

    spoken: bool = False
    scratch: bool = False

    def word(self, chunk: _Chunk) -> None:
        core = chunk.core
        if self.case == "upper" or (self.case is None and chunk.cap):
            core = _capitalise(core)
        elif self.case == "lower":
            core = _soften(core, self.keep)
        self.items.append(_Item("word", self.lead + chunk.lead + core, chunk.trail))
        self.lead, self.case = "", None

    def name(self, name: str, first: _Chunk, last: _Chunk) -> None:
        """An identifier or a cased name in place of the words ``first`` to ``last``."""
        lead = self.lead + "".join(ch for ch in first.lead if ch not in _MODEL_PUNCT)
        self.items.append(_Item("word", lead + name, last.trail, exact=True))
        self.lead, self.case = "", None

    def command(self, action: str, value: str, first: _Chunk, last: _Chunk) -> None:
        prev = self.items[-1] if self.items else None
        self.lead += "".join(ch for ch in first.lead if ch not in _MODEL_PUNCT)
        closers = "".join(ch for ch in last.trail if ch not in _MODEL_PUNCT)
        self.case = None
        if action == "scratch":
            self.scratch = self.scratch or not self.items
            self.items, self.lead, self.spoken = [], "", False
            return
        self.spoken = True
        if action == "break":
            if prev is not None:
                # A comma before a dictated line break is the model hearing a pause.
                if prev.kind == "word" and not prev.marks:
                    prev.trail = prev.trail.removesuffix(",")
                prev.marks += closers
            self.items.append(_Item("break", value))
        elif value[-1] in _OPENING:
            self.lead += value
        elif value[0] not in _CLOSING or prev is None or prev.kind == "break":
            # A dash stands between words; a comma with no word before it stands alone.
            self.items.append(_Item("word", value + closers))
        else:
            broke = any(ch in _TERMINAL for ch in last.trail)
            if not prev.marks:
                broke = broke or any(ch in _TERMINAL for ch in prev.trail)
                prev.trail = prev.trail.rstrip(_MODEL_PUNCT)
            prev.marks += value + closers
            # The model capitalised after the sentence break it heard; a spoken comma undoes it.
            self.case = "upper" if value[0] in _TERMINAL else "lower" if broke else None

    def text(self) -> str:
        items = [*self.items, _Item("word", self.lead)] if self.lead else self.items
        text = ""
        for before, item in zip([None, *items], items, strict=False):
            if before is not None and before.kind != "break" and item.kind == "word":
                text += " "
            text += item.text + item.trail + item.marks
        if not self.spoken and not any(ch.isalnum() for ch in text):
            return ""
        return text.strip(" ")


def interpret(
    transcript: str, rules: Rules, *, keep: Collection[str] = (), names: Matcher | None = None
) -> Piece:
    """Apply the spoken commands and drop the fillers of one utterance's transcript.

    The model's own casing and punctuation stay, except that a spoken mark replaces the
    model's mark before it ("Is it? Question mark." is "Is it?"). "Scratch that" after some
    words drops those words and keeps the rest of the utterance; with nothing before it, the
    piece asks to remove the previous utterance. ``keep`` lists words whose capitals stay.
    A casing command ("camel case user id") makes the words after it one name (``_casing``);
    ``names`` (a code document's identifiers) writes the longest run of words that spells
    one of them as that identifier ("get user by ID" is ``getUserById``). An utterance of
    names only loses the model's closing full stop: a name is not a sentence.
    """
    chunks = [_Chunk(*_split(word)) for word in transcript.split()]
    chunks = _drop_fillers(chunks, _table((phrase, True) for phrase in rules.fillers))
    # The first rule to claim a phrase wins, so an override cannot make it mean two things.
    commands = _table(
        [
            *((phrase, ("scratch", "")) for phrase in rules.scratch_that),
            *((phrase, ("break", "\n")) for phrase in rules.new_line),
            *((phrase, ("break", "\n\n")) for phrase in rules.new_paragraph),
            *((phrase, ("mark", mark)) for phrase, mark in rules.punctuation.items()),
        ]
    )
    casing = _table(rules.casing.items())
    keys = [letters(chunk.core) for chunk in chunks]
    # Words join into one identifier across the model's commas, never across a full stop.
    joins = [set(a.trail) <= {",", "-"} and not b.lead for a, b in pairwise(chunks)]
    out, i = _Output(keep), 0
    while i < len(chunks):
        n, (action, value) = _match(chunks, i, commands) or (1, ("word", ""))
        if action != "word":
            out.command(action, value, chunks[i], chunks[i + n - 1])
            i += n
            continue
        style = _match(chunks, i, casing)
        if style is not None:
            i = _casing(out, chunks, i, style, (commands, casing))
            continue
        n, name = names.match(keys, i, joins=[*joins, False]) if names else (0, "")
        if n:
            out.name(name, chunks[i], chunks[i + n - 1])
        else:
            out.word(chunks[i])
        i += max(n, 1)
    words = [item for item in out.items if item.kind == "word"]
    if words and all(item.exact for item in words) and words[-1].trail == ".":
        words[-1].trail = ""
    exact = bool(out.items) and out.items[0].exact
    return Piece(out.text(), scratch=out.scratch, exact_start=exact)


def _casing(out: _Output, chunks: list[_Chunk], i: int, style: tuple, stops: tuple) -> int:
    """Write the words after the casing command at ``i`` as one name; the index after them.

    The name takes the words up to the first that carries punctuation (included: "camel
    case user name, then" is "userName, then"), the next voice command, or the end.
    """
    n, value = style
    start = end = i + n
    while end < len(chunks):
        if any(_match(chunks, end, table) for table in stops) or (end > start and chunks[end].lead):
            break
        end += 1
        if chunks[end - 1].trail:
            break
    if end > start:
        out.name(cased([c.core for c in chunks[start:end]], value), chunks[start], chunks[end - 1])
    return end


# Capitalised words that stay capitalised mid-sentence. "May" is left out: it is a verb too.
_KEEP_WORDS = (
    "monday tuesday wednesday thursday friday saturday sunday january february march april"
    " june july august september october november december mr mrs ms dr"
)
_KEEP = frozenset(_KEEP_WORDS.split())
_WORD = re.compile(rf"\w+(?:[{_APOSTROPHES}]\w+)*")
_OPENERS = re.compile(rf"[\"'{re.escape(_OPENING)}]*")
_SENTENCE_END = re.compile(r"[.!?\u2026][\"')\]\u201d\u2019]*$")
_LINE_START = re.compile(r"(?:[-*+>]|#{1,6}|\d+[.)]|[-*] \[[ xX]\])")


def _capitalise(word: str) -> str:
    return word[:1].upper() + word[1:]


def _soften(word: str, keep: Collection[str]) -> str:
    """Lowercase a word the model capitalised only because an utterance began there.

    Nobody can tell "Bob" from "Then" without a dictionary, so this is a heuristic: lower a
    capital followed by lowercase ("Then") or a lone letter ("A"), never "I"/"I'm", acronyms
    ("NASA"), inner capitals ("iPhone"), days, months, or the words in ``keep``.
    """
    rest, base = word[1:], re.split(f"[{_APOSTROPHES}]", word)[0]
    if not word[:1].isupper() or base == "I" or any(ch.isupper() for ch in rest):
        return word
    kept = _KEEP | {w.casefold() for entry in keep for w in entry.split()}
    if (rest and not any(ch.islower() for ch in rest)) or base.casefold() in kept:
        return word
    return word[0].lower() + rest


def _opens(before: str) -> bool:
    """Whether ``before`` ends with an opening bracket or quote (a straight one after a space)."""
    rest = before.rstrip(_OPENING + "\"'")
    run = before[len(rest) :]
    return bool(run) and (any(ch in _OPENING for ch in run) or not rest or rest[-1].isspace())


def _ends_sentence(before: str) -> bool:
    if _opens(before):
        before = before.rstrip(_OPENING + "\"'")
    tail = before.rstrip(" \t")
    if not tail.strip() or tail.endswith(("\n", "\r")):
        return True
    if _LINE_START.fullmatch(tail.rsplit("\n", 1)[-1].strip()):
        return True
    return bool(_SENTENCE_END.search(tail))


def _closes(after: str) -> bool:
    """Whether ``after`` starts with closing punctuation (a straight quote not before a word)."""
    first = after[:1]
    if first in ('"', "'"):
        return not after[1:2].isalnum()
    return bool(first) and first in _CLOSING


def join(
    before: str,
    piece: str,
    after: str = "",
    *,
    sentence_end: bool | None = None,
    keep: Collection[str] = (),
    exact_start: bool = False,
) -> str:
    """The text to insert between ``before`` and ``after`` (the document around the cursor).

    Adds one space before the piece unless ``before`` is empty or ends with whitespace or an
    opening bracket, or the piece starts with a newline or closing punctuation; and one after
    it when ``after`` goes on with a word on the same line (not whitespace, not closing
    punctuation), so words dictated mid-line never stick to the text that follows. The first
    word is capitalised at a sentence or line start (``sentence_end`` overrides the guess),
    else softened: see ``_soften`` for which words keep their capital (``keep``: the user's
    vocabulary). With ``exact_start`` the first word is a name and stays as it is.
    """
    piece = re.sub(r"^[^\S\r\n]+", "", piece)
    if not piece:
        return ""
    if sentence_end is None:
        sentence_end = _ends_sentence(before)
    start = _OPENERS.match(piece).end()
    word = _WORD.match(piece, start)
    if word is not None and word[0][0].isalpha() and not exact_start:
        new = _capitalise(word[0]) if sentence_end else _soften(word[0], keep)
        piece = piece[:start] + new + piece[word.end() :]
    goes_on = after[:1] and not after[0].isspace() and not _closes(after)
    if goes_on and not piece[-1].isspace() and not _opens(piece):
        piece += " "
    if not before or before[-1].isspace() or _opens(before) or piece[0] in _CLOSING:
        return piece
    return piece if piece[0] in "\r\n" else " " + piece
