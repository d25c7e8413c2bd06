"""What keeps the server's start-up short: no tool's code for the server itself, no
importlib.metadata without a plugin package, and the collector resting until the answer."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from butler_ls.host import loader
from butler_ls.util import startup


def loaded_in_a_fresh_python(code: str) -> str:
    """What ``code`` prints in a new interpreter (a list of the modules it loaded)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_server_path_builds_no_tool_parser():
    code = (
        "import sys; from butler_ls import cli; "
        "cli.serve = lambda args: print(sorted(m for m in sys.modules if m.startswith("
        "('butler_ls.queue', 'butler_ls.doctor', 'butler_plugins')))); "
        "cli.main(['--log-level', 'DEBUG'])"
    )
    assert loaded_in_a_fresh_python(code) == "[]"


def test_a_command_still_gets_its_parser(capsys):
    from butler_ls import cli

    parser = cli.build_parser()
    assert parser.parse_args(["worker"]).command == "worker"
    assert cli.build_parser(commands=False).parse_known_args(["worker"])[1] == ["worker"]


def test_entry_points_are_read_only_where_a_distribution_declares_butler_plugins(
    tmp_path: Path, monkeypatch
):
    plain = tmp_path / "plain"
    (plain / "other-1.0.dist-info").mkdir(parents=True)
    (plain / "other-1.0.dist-info" / "entry_points.txt").write_text("[console_scripts]\nx = y\n")
    monkeypatch.setattr(sys, "path", [str(plain), str(tmp_path / "missing")])
    assert loader._may_declare_plugins() is False
    assert loader.plugin_entry_points() == []

    ours = tmp_path / "ours"
    (ours / "hello-1.0.dist-info").mkdir(parents=True)
    (ours / "hello-1.0.dist-info" / "entry_points.txt").write_text(
        "[butler.plugins]\nhello = butler_hello\n"
    )
    monkeypatch.setattr(sys, "path", [str(plain), str(ours)])
    assert loader._may_declare_plugins() is True

    archive = tmp_path / "plugins.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))  # a zip on the path: left to importlib
    monkeypatch.setattr(sys, "path", [str(archive)])
    assert loader._may_declare_plugins() is True


def test_collection_rests_until_resumed_and_start_up_objects_are_frozen(monkeypatch):
    monkeypatch.setattr(startup, "RESUME_SECONDS", 60.0)
    was_enabled = gc.isenabled()
    try:
        startup.pause_collection()
        assert not gc.isenabled()
        frozen_before = gc.get_freeze_count()
        startup.resume_collection()
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen_before
        startup.resume_collection()  # a second call (the timer's) changes nothing
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def test_the_worker_side_of_the_plugins_loads_no_language_server():
    # What the worker imports of each plugin (jobs:) and what `butler-ls transcribe` does.
    code = (
        "import sys; from butler_ls.host.loader import import_from_plugin, plan_plugins; "
        "from pathlib import Path; "
        "plan = plan_plugins(Path('/nonexistent'), (), (), entry_points=False, quiet=True); "
        "[import_from_plugin(f.manifest, t.module, None) for f in plan.order "
        " for t in (*f.manifest.jobs, *f.manifest.cli)]; "
        "heavy = ('lsprotocol', 'pygls', 'butler_ls.lsp', 'butler_ls.plugin_api'); "
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    assert loaded_in_a_fresh_python(code) == "[]"
