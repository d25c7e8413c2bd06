"""The editor guides are executable: every fenced block of docs/editors/*.md is named, and
every block not marked "not run" (with its reason) is taken by a test that uses it as
written (tests/guides.py says how)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from tests.guides import REPO, blocks, guide_block

TESTS = REPO / "tests"
HERE = Path(__file__).resolve()


def test_every_block_of_every_guide_has_a_marker_naming_it():
    unnamed = [b.where for b in blocks() if b.name is None]
    assert not unnamed, (
        "these blocks have no '<!-- block: NAME -->' line above them (see tests/guides.py): "
        + ", ".join(unnamed)
    )


def test_block_names_are_unique():
    twice = [name for name, n in Counter(b.name for b in blocks() if b.name).items() if n > 1]
    assert not twice, f"block names used more than once: {twice}"


def _test_sources() -> str:
    return "\n".join(
        p.read_text(encoding="utf-8")
        for p in TESTS.rglob("*.py")
        if p.resolve() != HERE and p.name != "guides.py"
    )


def test_every_block_is_run_by_a_test_or_says_why_not():
    sources = _test_sources()
    taken = set(re.findall(r"""guide_block\(\s*["']([a-z0-9.-]+)["']""", sources))
    orphans = [
        f"{b.name} ({b.where})"
        for b in blocks()
        if b.name and not b.not_run and b.name not in taken
    ]
    assert not orphans, (
        "no test runs these blocks: take each with guide_block(NAME) in the test that runs it, "
        "or mark it '; not run: REASON': " + ", ".join(orphans)
    )
    unknown = sorted(taken - {b.name for b in blocks()})
    assert not unknown, f"tests take blocks no guide has: {unknown}"


def test_guide_block_returns_the_text_between_the_fences(tmp_path, monkeypatch):
    import tests.guides as guides

    (tmp_path / "x.md").write_text(
        "intro\n<!-- block: x-one -->\n```lua\nlocal a = 1\n\nreturn a\n```\n"
        "<!-- block: x-two; not run: no such editor here -->\n```toml\nk = 1\n```\n```sh\nls\n```\n"
        "1. a step\n\n   <!-- block: x-three -->\n   ```sh\n   apt install x\n     y\n   ```\n"
    )
    monkeypatch.setattr(guides, "GUIDES", tmp_path)
    found = guides.blocks()
    assert [(b.name, b.lang, b.not_run, b.line) for b in found] == [
        ("x-one", "lua", None, 3),
        ("x-two", "toml", "no such editor here", 9),
        (None, "sh", None, 12),
        ("x-three", "sh", None, 18),
    ]
    assert guide_block("x-one") == "local a = 1\n\nreturn a\n"
    assert guide_block("x-three") == "apt install x\n  y\n"
