"""Plugins' job handlers and command-line tools: the manifest keys; how the worker loads them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from butler_ls.host.manifest import Target, parse_manifest
from butler_ls.queue.plugin_jobs import load_plugin_jobs
from butler_ls.util.errors import ManifestError

BASE = {"id": "p", "name": "P", "version": "1.0", "entry": "plugin"}


def test_jobs_and_cli_keys_are_read():
    manifest = parse_manifest(
        {
            **BASE,
            "jobs": [{"kind": "transcribe", "handler": "jobs:transcribe"}],
            "cli": {"transcribe": "cli:main"},
        },
        file="plugin.yaml",
    )
    assert manifest.jobs == (Target("transcribe", "jobs", "transcribe"),)
    assert manifest.cli == (Target("transcribe", "cli", "main"),)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("jobs", "jobs:run", "jobs: expected a list of {kind, handler}"),
        ("jobs", [{"kind": "Bad Kind", "handler": "jobs:run"}], "jobs[0].kind"),
        ("jobs", [{"kind": "run"}], "jobs[0].handler"),
        ("jobs", [{"kind": "run", "handler": "jobs"}], "module:function"),
        ("jobs", [{"kind": "run", "handler": "jobs:run", "when": 1}], "jobs[0].when: unknown key"),
        ("jobs", [{"kind": "a", "handler": "j:a"}, {"kind": "a", "handler": "j:b"}], "twice"),
        ("cli", ["transcribe"], "cli: expected a mapping of tool name"),
        ("cli", {"Tr ans": "cli:main"}, "command-line tool name"),
        ("cli", {"transcribe": "cli:class"}, "cli.transcribe"),
    ],
)
def test_bad_jobs_and_cli_name_the_key_and_the_fix(key, value, words):
    with pytest.raises(ManifestError) as caught:
        parse_manifest({**BASE, key: value}, file="plugin.yaml")
    assert words in str(caught.value)


def make_plugin(folder: Path, plugin_id: str, jobs_code: str, extra: str = "") -> None:
    folder = folder / plugin_id
    folder.mkdir(parents=True)
    (folder / "plugin.yaml").write_text(
        f"id: {plugin_id}\nname: {plugin_id}\nversion: 1.0.0\nentry: plugin\n{extra}"
        f"jobs:\n  - kind: {plugin_id}.run\n    handler: jobs:run\n"
    )
    (folder / "plugin.py").write_text("def activate(ctx):\n    pass\n")
    (folder / "jobs.py").write_text(jobs_code)


GOOD = """
def run(ctx, payload):
    return {"ok": payload}

def worker_status():
    return {"up": 1}
"""


def test_handlers_load_per_plugin_and_a_broken_one_is_named(tmp_path: Path, caplog):
    extra = tmp_path / "extra"
    make_plugin(extra, "uj_good", GOOD)
    make_plugin(extra, "uj_broken", "raise ValueError('no such engine')\n")
    make_plugin(extra, "uj_missing_attr", "x = 1\n")
    make_plugin(extra, "uj_off", GOOD)
    make_plugin(extra, "uj_orphan", GOOD, extra="requires: [not_here]\n")
    with caplog.at_level(logging.ERROR):
        jobs = load_plugin_jobs(tmp_path / "user", [str(extra)], ["uj_off"], entry_points=False)
    assert jobs.handlers["uj_good.run"](None, 3) == {"ok": 3}
    assert jobs.handlers["transcribe"]  # the built-in transcriber's job
    assert jobs.status()["up"] == 1 and "models" in jobs.status()
    broken = jobs.unavailable["uj_broken.run"]
    assert "plugin uj_broken" in broken and "ValueError: no such engine" in broken
    assert "has no attribute run" in jobs.unavailable["uj_missing_attr.run"]
    assert "plugin uj_off is not loaded: disabled" in jobs.unavailable["uj_off.run"]
    assert "not_here" in jobs.unavailable["uj_orphan.run"]
    assert "uj_broken" in caplog.text  # the worker's log says which plugin and why


def test_a_plugin_cannot_take_over_a_core_kind(tmp_path: Path):
    folder = tmp_path / "extra" / "uj_echo"
    folder.mkdir(parents=True)
    (folder / "plugin.yaml").write_text(
        "id: uj_echo\nname: e\nversion: 1.0.0\nentry: plugin\n"
        "jobs:\n  - kind: echo\n    handler: jobs:run\n"
    )
    (folder / "jobs.py").write_text(GOOD)
    jobs = load_plugin_jobs(
        tmp_path / "user", [str(folder.parent)], reserved={"echo"}, entry_points=False
    )
    assert "echo" not in jobs.handlers


def test_the_core_imports_no_plugin():
    """butler_ls is the host: no module of it imports plugins/ (only the loader loads them)."""
    import ast

    root = Path(__file__).resolve().parents[2] / "butler_ls"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in ("butler_plugins", "plugins"):
                    offenders.append(f"{path.relative_to(root.parent)}: {name}")
    assert offenders == []
