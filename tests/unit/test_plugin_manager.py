"""The plugin manager in-process: discovery sources, ordering, isolation, teardown."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest

from butler_ls.host import events
from butler_ls.lsp.server import ButlerServer
from butler_ls.util.paths import Paths, builtin_plugins_dir

REPO = Path(__file__).resolve().parents[2]


def write_plugin(folder: Path, manifest: str, code: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "plugin.yaml").write_text(textwrap.dedent(manifest))
    (folder / "plugin.py").write_text(textwrap.dedent(code))
    return folder


@pytest.fixture
def server(tmp_path: Path) -> ButlerServer:
    return ButlerServer(Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data"))


def test_builtin_plugins_are_found_and_ordered(server: ButlerServer):
    manager = server.plugin_manager
    manager.discover([("builtin", builtin_plugins_dir())], entry_points=False)

    async def activate_and_stop():
        await manager.activate_all(disabled=[])
        states = {r.id: r.state for r in manager.records.values()}
        order = list(manager._active_order)
        assert server.registry.provider_id("notes.daily") == "daily_writer"
        await manager.deactivate_all()
        return states, order

    states, order = asyncio.run(activate_and_stop())
    assert set(states.values()) == {"active"}
    assert {"daily_writer", "task_queue", "transcriber", "voice_input"} <= set(states)
    # voice_input consumes notes.daily, so daily_writer starts first.
    assert order.index("daily_writer") < order.index("voice_input")
    assert server.registry.names() == []


def test_deactivation_runs_in_reverse_and_cleans_up(server: ButlerServer, tmp_path: Path):
    log = tmp_path / "log.txt"
    for name, needs in (("first", ""), ("second", "requires: [first]")):
        write_plugin(
            tmp_path / "plugins" / name,
            f"""
            id: {name}
            name: {name}
            version: 1.0.0
            entry: plugin:P
            {needs}
            provides: [cap.{name}]
            commands: [{name}.go]
        """,
            f"""
            from butler_ls.host import events
            class P:
                def activate(self, ctx):
                    ctx.provide("cap.{name}", self)
                    ctx.command("{name}.go", lambda a: None)
                    ctx.connect(events.document_opened, self.seen)
                    open({str(log)!r}, "a").write("up {name}\\n")
                def seen(self, sender, **kw):
                    open({str(log)!r}, "a").write("seen {name}\\n")
                def deactivate(self):
                    open({str(log)!r}, "a").write("down {name}\\n")
        """,
        )
    manager = server.plugin_manager
    manager.discover([("path", tmp_path / "plugins")], entry_points=False)
    asyncio.run(manager.activate_all(disabled=[]))
    events.emit(events.document_opened, server, uri="file:///x")
    asyncio.run(manager.deactivate_all())
    lines = log.read_text().split("\n")
    assert lines[:2] == ["up first", "up second"]
    assert lines[-3:-1] == ["down second", "down first"]
    assert sorted(lines[2:4]) == ["seen first", "seen second"]
    assert server.registry.names() == []
    assert server.commands.ids() == []
    # Receivers are gone too: a later event reaches nobody.
    before = log.read_text()
    events.emit(events.document_opened, server, uri="file:///y")
    assert log.read_text() == before


def test_undeclared_command_or_capability_fails_the_plugin(server: ButlerServer, tmp_path: Path):
    write_plugin(
        tmp_path / "p" / "sneaky",
        """
        id: sneaky
        name: Sneaky
        version: 1.0.0
        entry: plugin:P
    """,
        """
        class P:
            def activate(self, ctx):
                ctx.command("sneaky.hidden", lambda a: None)
    """,
    )
    manager = server.plugin_manager
    manager.discover([("path", tmp_path / "p")], entry_points=False)
    asyncio.run(manager.activate_all(disabled=[]))
    record = manager.records["sneaky"]
    assert record.state == "failed"
    assert "does not list under 'commands'" in record.reason


def test_duplicate_ids_keep_the_first(server: ButlerServer, tmp_path: Path):
    for where in ("a", "b"):
        write_plugin(
            tmp_path / where / "twin",
            """
            id: twin
            name: Twin
            version: 1.0.0
            entry: plugin
        """,
            "def activate(ctx):\n    pass\n",
        )
    reported = []
    server.plugin_manager._report = reported.append
    server.plugin_manager.discover(
        [("path", tmp_path / "a"), ("path", tmp_path / "b")], entry_points=False
    )
    records = list(server.plugin_manager.records.values())
    assert [r.state for r in records] == ["inactive", "disabled"]
    assert "duplicate id" in records[1].reason
    assert [m.id for m in server.plugin_manager.manifests()] == ["twin"]


def test_entry_point_plugins_are_discovered(
    server: ButlerServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    site = tmp_path / "site"
    package = write_plugin(
        site / "butler_hello",
        """
        id: hello
        name: Hello
        version: 2.0.0
        entry: plugin:Hello
        provides: [greeting]
    """,
        """
        from .words import WORD
        class Hello:
            def activate(self, ctx):
                ctx.provide("greeting", WORD)
    """,
    )
    (package / "__init__.py").write_text("")
    (package / "words.py").write_text("WORD = 'hello'\n")
    dist = site / "butler_hello-2.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: butler-hello\nVersion: 2.0.0\n")
    (dist / "entry_points.txt").write_text("[butler.plugins]\nhello = butler_hello\n")
    monkeypatch.syspath_prepend(str(site))
    manager = server.plugin_manager
    manager.discover([], entry_points=True)
    asyncio.run(manager.activate_all(disabled=[]))
    assert manager.records["hello"].source == "entry-point"
    assert manager.records["hello"].state == "active"
    assert server.registry.get("greeting") == "hello"
    assert "butler_hello" in sys.modules


def test_the_docs_example_plugin_loads(server: ButlerServer):
    manager = server.plugin_manager
    manager.discover(
        [("builtin", builtin_plugins_dir()), ("path", REPO / "docs" / "examples")],
        entry_points=False,
    )

    async def activate_count_and_stop():
        await manager.activate_all(disabled=[])
        assert manager.records["word_count"].state == "active"
        counter = server.registry.require("text.wordCount")
        assert counter.count("two words") == 2
        await manager.deactivate_all()

    asyncio.run(activate_count_and_stop())
