"""How much of the editor guides the tests run: the fenced blocks of docs/editors/*.md,
which test takes each (tests/guides.py), which are marked "not run" and why, and which
editors the suite drives for real. Prints JSON. Usage: python benchmarks/guides.py

This counts; it runs nothing. That a taken block really runs, and passes, is what
`make test` shows (tests/unit/test_guides.py fails on a block no test takes).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.guides import blocks  # noqa: E402

# The editors a test file drives for real, by the file that drives it.
EDITORS = {
    "Neovim": "tests/e2e/test_nvim.py",
    "VS Code (code-server)": "tests/e2e/test_vscode.py",
    "Emacs": "tests/e2e/test_emacs.py",
}


def main() -> None:
    sources = {
        str(p.relative_to(REPO)): p.read_text(encoding="utf-8")
        for p in (REPO / "tests").rglob("*.py")
        if p.name not in {"guides.py", "test_guides.py"}
    }
    takers: dict[str, list[str]] = {}
    for path, text in sources.items():
        for name in re.findall(r"""guide_block\(\s*["']([a-z0-9.-]+)["']""", text):
            takers.setdefault(name, []).append(path)
    found = blocks()
    per_guide: dict[str, dict[str, int]] = {}
    rows = []
    for block in found:
        run_by = sorted(set(takers.get(block.name or "", [])))
        state = "not run" if block.not_run else ("run" if run_by else "untaken")
        counts = per_guide.setdefault(block.guide, {"blocks": 0, "run": 0, "notRun": 0})
        counts["blocks"] += 1
        counts["run"] += state == "run"
        counts["notRun"] += state == "not run"
        rows.append(
            {
                "block": block.name,
                "where": block.where,
                "lang": block.lang,
                "state": state,
                "runBy": run_by,
                "whyNot": block.not_run,
            }
        )
    report = {
        "blocks": len(found),
        "run": sum(r["state"] == "run" for r in rows),
        "notRun": sum(r["state"] == "not run" for r in rows),
        "untaken": sum(r["state"] == "untaken" for r in rows),
        "perGuide": per_guide,
        "editorsDrivenForReal": [e for e, path in EDITORS.items() if (REPO / path).exists()],
        "detail": rows,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
