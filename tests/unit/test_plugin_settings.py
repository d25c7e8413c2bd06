"""Plugin-owned settings: the manifest's ``schema:``, its classes imported before the
settings are read, and the one settings engine checking each section by name."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import attrs
import pytest

from butler_ls.host.manifest import parse_manifest
from butler_ls.lsp.server import ButlerServer
from butler_ls.util.config import between, parse_settings, setting, to_wire
from butler_ls.util.errors import ManifestError
from butler_ls.util.paths import Paths, builtin_plugins_dir

MANIFEST = """\
id: {id}
name: {id}
version: 1.0.0
entry: plugin
provides:
  - seen.{id}
schema:
{schema}
"""

PLUGIN = "def activate(ctx):\n    ctx.provide('seen.' + ctx.plugin_id, ctx.plugin_settings)\n"

SETTINGS = """\
import attrs
from butler_ls.plugin_api import between, setting


@attrs.frozen
class Mine:
    size: int = setting(3, check=between(1, 10))
    label: str = "x"
"""


def write_plugin(root: Path, plugin_id: str, schema: str, settings: str = SETTINGS) -> Path:
    folder = root / plugin_id
    folder.mkdir(parents=True)
    body = textwrap.indent(schema, "  ")
    (folder / "plugin.yaml").write_text(MANIFEST.format(id=plugin_id, schema=body))
    (folder / "plugin.py").write_text(PLUGIN)
    (folder / "settings.py").write_text(settings)
    return folder


@pytest.fixture
def server(tmp_path: Path) -> ButlerServer:
    return ButlerServer(Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data"))


def load(server: ButlerServer, root: Path, disabled: list[str] = ()) -> None:
    manager = server.plugin_manager
    manager.discover([("builtin", builtin_plugins_dir()), ("path", root)], entry_points=False)
    manager.load_schemas(disabled)


# -- the settings engine ---------------------------------------------------------------------


@attrs.frozen
class Sample:
    count: int = setting(2, check=between(1, 5))
    names: list[str] = attrs.field(factory=list)


def test_a_typed_section_is_checked_field_by_field_under_its_name():
    raw = {"sample": {"count": 9, "names": ["a"], "nmae": 1}}
    settings, warnings = parse_settings(raw, {"sample": Sample})
    assert settings.get(Sample) == Sample(count=2, names=["a"])
    assert settings.section("sample") is settings.get(Sample)
    assert warnings[0] == "butler.sample.count: must be between 1 and 5, got 9; using the default 2"
    assert "butler.sample.nmae: unknown setting, ignored; did you mean 'names'?" in warnings
    assert to_wire(settings)["sample"] == {"count": 2, "names": ["a"]}


def test_a_section_nobody_declares_is_unknown_and_a_known_unread_one_is_not():
    _, warnings = parse_settings({"sample": {}, "other": {"x": 1}}, {"sample": None})
    assert warnings == ["butler.other: unknown setting, ignored"]


def test_get_gives_the_defaults_of_a_section_that_is_not_loaded():
    settings, _ = parse_settings({})
    assert settings.get(Sample) == Sample()
    assert settings.section("sample") is None


def test_the_core_sections_cannot_be_taken_by_a_plugin():
    settings, warnings = parse_settings({"queue": {"backend": "redis"}}, {"queue": Sample})
    assert settings.queue.backend == "redis" and settings.section("queue") is None
    assert warnings == []


# -- the manifest ------------------------------------------------------------------------


def manifest_problems(schema: object, **extra: object) -> str:
    data = {"id": "mine", "name": "Mine", "version": "1.0.0", "entry": "plugin"}
    with pytest.raises(ManifestError) as caught:
        parse_manifest({**data, "schema": schema, **extra}, file="plugin.yaml")
    return str(caught.value)


def test_schema_entries_are_checked_before_any_import():
    data = {"id": "mine", "name": "Mine", "version": "1.0.0", "entry": "plugin"}
    manifest = parse_manifest({**data, "schema": {"mine": "settings:Mine"}}, file="p.yaml")
    assert [(t.name, t.module, t.function) for t in manifest.schema] == [
        ("mine", "settings", "Mine")
    ]
    assert "schema.mine" in manifest_problems({"mine": "settings"})
    assert "a section of Butler itself" in manifest_problems({"queue": "settings:Mine"})
    assert "settings section" in manifest_problems({"Bad Name": "settings:Mine"})
    assert "a mapping of section name" in manifest_problems(["settings:Mine"])
    both = manifest_problems({"mine": "settings:Mine"}, settings={"size": 3})
    assert "come from its class in schema" in both


# -- the plugin manager ----------------------------------------------------------------------


def test_a_plugin_reads_its_typed_section_as_the_user_set_it(server: ButlerServer, tmp_path):
    write_plugin(tmp_path / "p", "mine", "mine: settings:Mine\n")
    load(server, tmp_path / "p")
    server.sources.initialization = {"mine": {"size": 7, "label": "y"}}
    assert server.apply_settings() == []
    asyncio.run(server.plugin_manager.activate_all([]))
    seen = server.registry.get("seen.mine")
    assert (seen.size, seen.label) == (7, "y")
    assert type(seen).__name__ == "Mine"


def test_a_bad_value_warns_by_name_and_the_plugin_gets_the_default(server: ButlerServer, tmp_path):
    write_plugin(tmp_path / "p", "mine", "mine: settings:Mine\n")
    load(server, tmp_path / "p")
    server.sources.initialization = {"mine": {"size": 0}}
    warnings = server.apply_settings()
    assert warnings == ["butler.mine.size: must be between 1 and 10, got 0; using the default 3"]
    asyncio.run(server.plugin_manager.activate_all([]))
    assert server.registry.get("seen.mine").size == 3


def test_a_class_that_is_not_attrs_fails_only_its_plugin(server: ButlerServer, tmp_path):
    write_plugin(tmp_path / "p", "plain", "plain: settings:Mine\n", "class Mine:\n    size = 3\n")
    load(server, tmp_path / "p")
    record = server.plugin_manager.records["plain"]
    assert record.state == "failed" and "not an attrs class" in (record.reason or "")
    assert server.plugin_manager.records["daily_writer"].state == "inactive"
    # Its section is still known: a user's value for it is not "unknown".
    _, warnings = parse_settings({"plain": {"size": 1}}, server.plugin_manager.settings_schema())
    assert warnings == []


def test_a_schema_module_that_fails_to_import_fails_only_its_plugin(server: ButlerServer, tmp_path):
    write_plugin(tmp_path / "p", "boom", "boom: settings:Mine\n", "raise RuntimeError('no')\n")
    load(server, tmp_path / "p")
    record = server.plugin_manager.records["boom"]
    assert record.state == "failed"
    assert record.reason == "settings schema raised RuntimeError: no"


def test_a_section_has_one_owner(server: ButlerServer, tmp_path):
    # The built-in transcriber owns "model"; the plugin folder id "voice_input" is
    # voice_input's own section.
    write_plugin(tmp_path / "p", "thief", "model: settings:Mine\n")
    write_plugin(tmp_path / "q", "squatter", "voice_input: settings:Mine\n")
    manager = server.plugin_manager
    manager.discover(
        [("builtin", builtin_plugins_dir()), ("path", tmp_path / "p"), ("path", tmp_path / "q")],
        entry_points=False,
    )
    manager.load_schemas()
    assert "belongs to plugin transcriber" in (manager.records["thief"].reason or "")
    assert "belongs to plugin voice_input" in (manager.records["squatter"].reason or "")
    assert manager.records["transcriber"].state == "inactive"


def test_a_disabled_plugin_s_schema_is_not_imported(server: ButlerServer, tmp_path):
    marker = tmp_path / "imported"
    code = f"open({str(marker)!r}, 'w').close()\n" + SETTINGS
    write_plugin(tmp_path / "p", "quiet", "quiet: settings:Mine\n", code)
    load(server, tmp_path / "p", disabled=["quiet"])
    assert not marker.exists()
    schema = server.plugin_manager.settings_schema()
    assert "quiet" in schema and schema["quiet"] is None
