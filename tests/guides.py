"""The configuration blocks of the editor guides (docs/editors/*.md), for the tests that run
them as written.

Every fenced block of a guide is preceded by a marker line that names it::

    <!-- block: nvim-lazy-spec -->
    ```lua
    ...
    ```

or, for a block no test can run on this kind of machine, says why::

    <!-- block: zed-lib-rs; not run: crates.io is out of reach, so it cannot be compiled -->

A test takes a block by its name with :func:`guide_block`; ``tests/unit/test_guides.py``
checks that every block has a marker and that every block not marked "not run" is taken by
some test, so a guide that drifts from the code fails the suite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GUIDES = REPO / "docs" / "editors"

MARKER = re.compile(r"^<!-- block: (?P<name>[a-z0-9][a-z0-9.-]*)(?:; not run: (?P<why>.+?))? -->$")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<lang>[\w+-]*)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block of a guide."""

    guide: str  # file name, e.g. "neovim.md"
    line: int  # 1-based line of the opening fence
    lang: str  # the fence's info string ("lua", "elisp", ...), "" if none
    text: str  # the block's content, ending with a newline
    name: str | None  # from the marker line above the fence; None if it has none
    not_run: str | None  # the reason given by a "not run" marker

    @property
    def where(self) -> str:
        return f"docs/editors/{self.guide}:{self.line}"


def blocks(guide: str | None = None) -> list[Block]:
    """Every fenced block of the guides (or of one guide), in order."""
    found: list[Block] = []
    paths = [GUIDES / guide] if guide else sorted(GUIDES.glob("*.md"))
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            opening = FENCE.match(lines[i])
            if opening is None:
                i += 1
                continue
            close = opening.group("fence")
            end = next(
                (j for j in range(i + 1, len(lines)) if lines[j].strip() == close),
                None,
            )
            if end is None:
                raise AssertionError(f"{path.name}:{i + 1}: a fenced block is never closed")
            marker = MARKER.match(lines[i - 1].strip()) if i > 0 else None
            found.append(
                Block(
                    guide=path.name,
                    line=i + 1,
                    lang=opening.group("lang"),
                    text=_dedent(lines[i + 1 : end], len(opening.group("indent"))),
                    name=marker.group("name") if marker else None,
                    not_run=marker.group("why") if marker else None,
                )
            )
            i = end + 1
    return found


def _dedent(lines: list[str], indent: int) -> str:
    """A block's lines without the indentation of its fence (a block in a list item)."""
    return "\n".join(line[indent:] if line[:indent].isspace() else line for line in lines) + "\n"


def guide_block(name: str) -> str:
    """The text of the block named ``name``, exactly as the guide shows it."""
    named = [b for b in blocks() if b.name == name]
    if len(named) != 1:
        raise LookupError(f"{len(named)} blocks named {name!r} in docs/editors/*.md; expected one")
    return named[0].text
