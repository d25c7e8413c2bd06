"""The VS Code extension packages with its code however a contributor packages it."""

from __future__ import annotations

import json
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "editors" / "vscode" / "package.json"


def test_vsce_builds_the_bundle_before_packaging():
    # vsce runs vscode:prepublish before a plain `vsce package` or `npm run package`;
    # without it the .vsix shipped no out/extension.js.
    scripts = json.loads(PACKAGE.read_text())["scripts"]
    assert scripts["vscode:prepublish"] == "npm run compile"
    assert "--outfile=out/extension.js" in scripts["compile"]
    assert json.loads(PACKAGE.read_text())["main"].lstrip("./") == "out/extension.js"
