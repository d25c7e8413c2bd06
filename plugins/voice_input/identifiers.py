"""The words of the open documents for dictation: identifiers and proper names as the model's
hotwords, and spoken identifiers ("get user by id") written as the code spells them.

Pure functions (``spoken_words``, ``scan``, ``rank``, ``Matcher``, ``cased``) and one stateful
helper for a session, ``DocumentWords``, which caches each document's scan by its version.
"""

from __future__ import annotations

import asyncio
import bisect
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

_PROSE = (
    "markdown plaintext text org restructuredtext rst latex tex bibtex asciidoc git-commit"
    " git-rebase mail email"
)
PROSE_LANGUAGES = frozenset(_PROSE.split())
"""``languageId``s of prose: their words are hotwords, but nothing is turned into identifiers.
Every other languageId is code; a document without one counts as prose (the safe side)."""

HOTWORD_CHARS = 300
"""At most this many characters of hotwords (about 75 tokens): faster-whisper puts them in
the prompt before the context, and cuts them at 223 tokens anyway."""

MAX_SCAN_CHARS = 1_000_000
"""A longer document is scanned only this far around the cursor."""

MAX_TITLES = 200
"""Notes read for titles, newest first."""

_MEMO_LINES = 20_000

_CODE_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(?:-[a-z][a-z0-9]*)*")
_PROSE_WORD = re.compile(r"[\w$]+(?:[-'\u2019][\w]+)*")
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_SENTENCE_END = re.compile(r"(?:[.!?\u2026:][\"')\]\u201d\u2019*_]*|^[\s>*#+\-|0-9.)\[\]x]*)\s*$")
_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    " fifteen sixteen seventeen eighteen nineteen twenty"
)
_DIGITS = {word: str(n) for n, word in enumerate(_NUMBERS.split())}
_DATES = (
    "monday tuesday wednesday thursday friday saturday sunday january february march april"
    " may june july august september october november december"
)
_DATE_WORDS = frozenset(_DATES.split())


def spoken_words(name: str) -> tuple[str, ...]:
    """The words a user says for ``name``: ``getUserById`` is get user by id, ``HTTPServer``
    http server, ``MAX_RETRY_COUNT`` max retry count, ``retry-2`` retry 2."""
    return tuple(part.lower() for part in _PARTS.findall(name))


def _hotword(name: str, words: tuple[str, ...]) -> str:
    """How ``name`` goes to the model: spoken words (an identifier written as code made the
    model write code in prose and drop words around it), keeping an acronym's capitals."""
    if len(words) < 2:
        return name
    parts = _PARTS.findall(name)
    shout = name.upper() == name
    return " ".join(p if len(p) > 1 and p.isupper() and not shout else p.lower() for p in parts)


@attrs.frozen
class Word:
    """One candidate of a document: an identifier (code) or a proper name (prose)."""

    name: str
    """As the document writes it."""

    words: tuple[str, ...]
    """Its spoken words, lowercase."""

    lines: tuple[int, ...]
    """The lines it is on, ascending."""

    @property
    def hotword(self) -> str:
        """The hotword form: spoken words for an identifier, the name for a proper name."""
        return _hotword(self.name, self.words)

    def distance(self, line: int) -> int:
        """Lines from ``line`` to its nearest occurrence."""
        at = bisect.bisect_left(self.lines, line)
        near = [abs(self.lines[i] - line) for i in (at - 1, at) if 0 <= i < len(self.lines)]
        return min(near)


def is_code(language_id: str | None) -> bool:
    """Whether a document of ``language_id`` is code (anything not known as prose)."""
    return bool(language_id) and language_id.lower() not in PROSE_LANGUAGES


def _line_names(line: str, code: bool) -> list[str]:
    if code:
        # Compound names only: "get_user_by_id" is worth a hotword, "self" or "x" is not.
        return [m[0] for m in _CODE_NAME.finditer(line) if len(_PARTS.findall(m[0])) > 1]
    names = []
    for m in _PROSE_WORD.finditer(line):
        word, parts = m[0], _PARTS.findall(m[0])
        if len(parts) > 1 and not word.isupper() and word.isascii() and "'" not in word:
            names.append(word)  # `getUserById` or a kebab-name written in prose
        elif (
            word[:1].isupper()
            and len(word) > 1
            and word.lower() not in _DATE_WORDS
            and not _SENTENCE_END.search(line[: m.start()])  # not a sentence's first word
        ):
            names.append(word)
    return names


@attrs.define
class Scanner:
    """Finds a document's words, remembering each line's: after an edit only the changed
    lines are read again (dictation changes the target document at every utterance)."""

    _memo: dict[tuple[bool, str], list[str]] = attrs.Factory(dict)

    def scan(self, text: str, code: bool, cursor: int = 0) -> list[Word]:
        """The words of ``text`` (a document of code or prose), in order of first occurrence;
        beyond MAX_SCAN_CHARS only the part around line ``cursor`` is read."""
        lines = text.splitlines()
        first = 0
        if len(text) > MAX_SCAN_CHARS:
            per_line = max(1, len(text) // max(len(lines), 1))
            span = MAX_SCAN_CHARS // per_line
            first = max(0, min(cursor - span // 2, len(lines) - span))
            lines = lines[first : first + span]
        if len(self._memo) > _MEMO_LINES:
            self._memo.clear()
        found: dict[str, list[int]] = {}
        for number, line in enumerate(lines, first):
            names = self._memo.get((code, line))
            if names is None:
                names = self._memo[(code, line)] = _line_names(line, code)
            for name in names:
                found.setdefault(name, []).append(number)
        return [Word(name, spoken_words(name), tuple(at)) for name, at in found.items()]


def note_title(text: str) -> str:
    """A note's title: its first ``# `` heading without dates, weekdays and months (a daily
    note's "# 2024-06-03 Monday" has none); "" when nothing is left."""
    for line in text.splitlines()[:30]:
        if line.startswith("# "):
            words = [
                w
                for w in line[2:].split()
                if any(ch.isalpha() for ch in w) and w.strip(",.").lower() not in _DATE_WORDS
            ]
            return " ".join(words)
    return ""


def rank(
    target: Sequence[Word],
    cursor: int,
    others: Iterable[Sequence[Word]],
    titles: Sequence[str],
    *,
    count: int,
    chars: int = HOTWORD_CHARS,
) -> list[str]:
    """Hotwords, nearest first: the target document's words by line distance from ``cursor``,
    the other documents' by how often they occur, then the notes' titles; without repeats, at
    most ``count`` of them and ``chars`` characters in all."""
    ordered = [w.hotword for w in sorted(target, key=lambda w: w.distance(cursor))]
    for words in others:
        ordered += [w.hotword for w in sorted(words, key=lambda w: -len(w.lines))]
    ordered += titles
    chosen: list[str] = []
    seen: set[str] = set()
    used = 0
    for hotword in ordered:
        key = hotword.casefold()
        if key in seen or not hotword.strip():
            continue
        if len(chosen) >= count or used + len(hotword) + 2 > chars:
            break
        seen.add(key)
        chosen.append(hotword)
        used += len(hotword) + 2  # ", " joins them
    return chosen


def closed(hotwords: Sequence[str]) -> list[str]:
    """``hotwords`` ending with a full stop: the list is the prompt's last text, and without
    one tiny.en went on with it ("it, unless to be...": 13 word errors on the English
    recordings instead of 5; 6 with it, see benchmarks/identifiers.py)."""
    if not hotwords or hotwords[-1].endswith("."):
        return list(hotwords)
    return [*hotwords[:-1], hotwords[-1] + "."]


class DictatedWords(dict[str, set[str]]):
    """Per document URI, the words dictation wrote there, casefolded: ``DocumentWords`` does
    not send them back to the model. The last ``MAX_DOCUMENTS`` documents are remembered."""

    MAX_DOCUMENTS = 50

    def wrote(self, uri: str, text: str) -> None:
        """Dictation wrote ``text`` into ``uri``."""
        self.setdefault(uri, set()).update(m[0].casefold() for m in _PROSE_WORD.finditer(text))
        while len(self) > self.MAX_DOCUMENTS:
            self.pop(next(iter(self)))


def letters(text: str) -> str:
    """``text`` as a transcript word is compared with an identifier: lowercase letters and
    digits only, accents dropped, a number word as its digits ("Two," is 2, "I.D." is id)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if ch.isalnum() and not unicodedata.combining(ch)).lower()
    return _DIGITS.get(text, text)


class Matcher:
    """Finds the longest run of transcript words that spells an identifier of a document."""

    def __init__(self, words: Iterable[Word]) -> None:
        """``words`` nearest first: when two names say the same, the nearer one wins."""
        self.names: dict[str, str] = {}
        for word in words:
            if len(word.words) > 1:
                self.names.setdefault("".join(letters(w) for w in word.words), word.name)
        self._longest = max(map(len, self.names), default=0)

    def __bool__(self) -> bool:
        return bool(self.names)

    def match(self, keys: Sequence[str], i: int, *, joins: Sequence[bool] = ()) -> tuple[int, str]:
        """How many of ``keys`` (each word's ``letters``) from ``i`` spell an identifier, and
        which: ``(0, "")`` when none. The words are glued before comparing, so "time out"
        and "timeout" both spell ``request_timeout``; ``joins[k]`` false means the word
        ``k`` cannot be joined to the next one (a full stop between them)."""
        best = (0, "")
        glued = ""
        for j in range(i, len(keys)):
            glued += keys[j]
            if len(glued) > self._longest:
                break
            name = self.names.get(glued)
            if name is not None and keys[j]:
                best = (j - i + 1, name)
            if joins and not joins[j]:
                break
        return best


def cased(words: Sequence[str], style: str) -> str:
    """``words`` (spoken, any case) as one name in ``style``: camel ``getUserById``, pascal
    ``GetUserById``, snake ``get_user_by_id``, kebab ``get-user-by-id``, constant
    ``GET_USER_BY_ID``. A word the model wrote as a name already ("getUser") is split first."""
    parts = [p.lower() for word in words for p in (_PARTS.findall(word) or [word])]
    parts = [_DIGITS.get(p, p) for p in parts if p]
    if not parts:
        return ""
    if style == "camel":
        return parts[0] + "".join(p.capitalize() for p in parts[1:])
    if style == "pascal":
        return "".join(p.capitalize() for p in parts)
    if style == "kebab":
        return "-".join(parts)
    if style == "constant":
        return "_".join(parts).upper()
    return "_".join(parts)


class DocumentWords:
    """A session's view of the open documents' words: hotwords for each utterance and the
    identifiers of the document being dictated into, each document scanned once per version."""

    def __init__(
        self,
        ctx: Any,
        identifiers: bool,
        max_hotwords: int,
        *,
        fixed: int = 0,
        dictated: Mapping[str, set[str]] | None = None,
    ) -> None:
        """``fixed``: how many hotwords the worker adds itself (``model.vocabulary``);
        ``dictated``: per document URI, the words Butler wrote there (casefolded)."""
        self.ctx = ctx
        self.dictated = dictated if dictated is not None else {}
        self.identifiers = identifiers
        self.max_hotwords = max(0, max_hotwords - fixed)
        self._scanner = Scanner()
        self._scans: dict[str, tuple[Any, list[Word]]] = {}
        self._titles: list[str] | None = None

    def _words(self, uri: str, cursor: int = 0) -> tuple[list[Word], bool]:
        """The document's words (cached by version) and whether it is code."""
        document = self.ctx.document(uri)
        if document is None:
            return [], False
        code = is_code(getattr(document, "language_id", None))
        cached = self._scans.get(uri)
        if cached is not None and cached[0] == (document.version, code):
            return cached[1], code
        words = self._scanner.scan(document.source, code, cursor)
        self._scans[uri] = ((document.version, code), words)
        return words, code

    def _note_titles(self) -> list[str]:
        notes = self.ctx.get("notes.daily")
        if notes is None:
            return []
        titles = []
        try:
            folder = Path(notes.directory())
            for name in reversed(notes.note_files()[-MAX_TITLES:]):
                with (folder / name).open(encoding="utf-8", errors="replace") as file:
                    title = note_title(file.read(4096))
                if title:
                    titles.append(title)
        except Exception:  # titles are a bonus: a notes folder that cannot be read has none
            return titles
        return titles

    def _typed(self, uri: str, line: int = 0) -> list[Word]:
        """The words of ``uri`` worth a hotword: a code document's identifiers; a prose
        document's names, less any Butler wrote there (one the user typed too, the model got
        right without help). The model's own words sent back
        to it only repeat its mistakes, and cost prose dictation words: with its earlier
        sentences' names as hotwords, tiny.en wrote the corpus's "two nine three four zero"
        as "293-40" (dictation WER 11.0% against 5.5% without; benchmarks/dictation.py)."""
        words, code = self._words(uri, line)
        dictated = self.dictated.get(uri)
        if code or not dictated:
            return words
        return [w for w in words if w.name.casefold() not in dictated]

    def _hotwords(self, uri: str | None, line: int) -> list[str]:
        target = self._typed(uri, line) if uri is not None else []
        others = [self._typed(u) for u in self.ctx.open_uris() if u != uri]
        return rank(target, line, others, self._titles or [], count=self.max_hotwords)

    async def hotwords(self, uri: str | None, line: int) -> list[str]:
        """The hotwords of an utterance at ``line`` of ``uri`` (None: the daily note)."""
        if not self.identifiers or self.max_hotwords == 0:
            return []
        if self._titles is None:
            self._titles = await asyncio.to_thread(self._note_titles)
        return await asyncio.to_thread(self._hotwords, uri, line)

    async def matcher(self, uri: str | None, line: int) -> Matcher | None:
        """The identifiers of ``uri`` nearest ``line`` first; None for prose or when off."""
        if not self.identifiers or uri is None:
            return None
        words, code = await asyncio.to_thread(self._words, uri, line)
        if not code:
            return None
        return Matcher(sorted(words, key=lambda w: w.distance(line)))
