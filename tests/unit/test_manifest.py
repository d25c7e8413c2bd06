"""Tests for plugin manifests: what a plugin author sees for good and broken plugin.yaml files.

Every broken manifest must give one ManifestError naming the file, the key and the fix.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from butler_ls.host.manifest import (
    KNOWN_KEYS,
    MANIFEST_NAME,
    CommandSpec,
    PluginManifest,
    Requirement,
    load_manifest,
    parse_manifest,
)
from butler_ls.util.errors import ManifestError

EXAMPLE = """\
id: daily_writer
name: Daily notes
version: 0.1.0
description: Opens today's note and appends typed or spoken entries.
entry: plugin:DailyWriterPlugin
requires:
  - voice_input >=0.1,<1
provides: [notes.daily, notes.writer]
consumes: [voice.capture]
commands:
  - id: butler.note.open
    title: Open today's note
  - butler.note.append
settings:
  coalesceMs: 200
butler: ">=0.1"
"""

MINIMAL = {"id": "tiny", "name": "Tiny", "version": "1.0.0", "entry": "tiny"}


def write(folder: Path, content: str | bytes) -> Path:
    path = folder / MANIFEST_NAME
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def error_for(data: object, file: str = "demo/plugin.yaml") -> ManifestError:
    with pytest.raises(ManifestError) as info:
        parse_manifest(data, file=file)
    return info.value


def test_the_documented_example_loads(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    manifest = load_manifest(path, source="user")
    assert manifest.id == "daily_writer"
    assert manifest.version == "0.1.0"
    assert (manifest.entry_module, manifest.entry_attr) == ("plugin", "DailyWriterPlugin")
    assert manifest.requires == (Requirement("voice_input", ">=0.1,<1"),)
    assert manifest.provides == ("notes.daily", "notes.writer")
    assert manifest.consumes == ("voice.capture",)
    assert manifest.commands == (
        CommandSpec("butler.note.open", "Open today's note", ""),
        CommandSpec("butler.note.append", "butler.note.append", ""),
    )
    assert manifest.settings == {"coalesceMs": 200}
    assert manifest.butler == ">=0.1"
    assert (manifest.folder, manifest.source, manifest.file) == (tmp_path, "user", str(path))


def test_a_minimal_manifest_gets_empty_defaults() -> None:
    manifest = parse_manifest(MINIMAL, file="tiny/plugin.yaml")
    assert isinstance(manifest, PluginManifest)
    assert (manifest.entry_module, manifest.entry_attr) == ("tiny", None)
    assert manifest.description == ""
    assert manifest.requires == manifest.provides == manifest.consumes == manifest.commands == ()
    assert manifest.settings == {}
    assert manifest.butler == ""
    assert manifest.folder is None
    assert manifest.source == "path"
    hash(manifest)  # usable as a dict key despite the settings dict


def test_empty_optional_keys_count_as_absent() -> None:
    data = {**MINIMAL, "requires": None, "commands": None, "settings": None, "description": None}
    manifest = parse_manifest(data, file="f")
    assert manifest.requires == manifest.commands == ()
    assert manifest.settings == {}


def test_requires_as_a_mapping_of_id_to_specifier() -> None:
    data = {**MINIMAL, "requires": {"voice_input": ">=0.1,<1", "notes": None, "other": ""}}
    manifest = parse_manifest(data, file="f")
    assert manifest.requires == (
        Requirement("voice_input", ">=0.1,<1"),
        Requirement("notes"),
        Requirement("other"),
    )


def test_requires_list_accepts_ids_with_and_without_space() -> None:
    data = {**MINIMAL, "requires": ["voice_input>=0.1", "notes", "  clock ~=1.2  "]}
    manifest = parse_manifest(data, file="f")
    assert manifest.requires == (
        Requirement("voice_input", ">=0.1"),
        Requirement("notes"),
        Requirement("clock", "~=1.2"),
    )


def test_commands_as_strings_and_mappings() -> None:
    commands = ["a.first", {"id": "a.second", "title": "Second", "description": "Does two"}]
    manifest = parse_manifest({**MINIMAL, "commands": commands}, file="f")
    assert manifest.commands == (
        CommandSpec("a.first", "a.first", ""),
        CommandSpec("a.second", "Second", "Does two"),
    )


def test_requirement_allows_versions_in_range() -> None:
    requirement = Requirement("voice_input", ">=0.1,<1")
    assert requirement.allows("0.1.0")
    assert requirement.allows("0.9.9")
    assert requirement.allows("0.2.0a1")  # pre-releases of plugins count
    assert not requirement.allows("1.0.0")
    assert not requirement.allows("not a version")
    assert Requirement("voice_input").allows("7")
    assert str(requirement) == "voice_input >=0.1,<1"


@pytest.mark.parametrize(
    ("changes", "key", "fragment"),
    [
        ({"id": None}, "id", "non-empty string"),
        ({"id": "Daily Writer"}, "id", "lowercase"),
        ({"id": "ok\n"}, "id", "not a valid id"),
        ({"name": "  "}, "name", "non-empty string"),
        ({"version": "1.x"}, "version", "'1.x' is not a valid version; use a PEP 440 version"),
        ({"version": 1.10}, "version", "quote"),
        ({"version": True}, "version", "got the boolean true"),
        ({"version": datetime.date(2024, 1, 2)}, "version", "the date 2024-01-02"),
        ({"entry": "plugin:Two:Colons"}, "entry", "plugin:MyPlugin"),
        ({"entry": "my-plugin"}, "entry", "not a valid entry"),
        ({"entry": "plugin:class"}, "entry", "not a valid entry"),
        ({"entry": ["plugin"]}, "entry", "got a list"),
        ({"description": 3}, "description", "got the number 3"),
        ({"requires": ["x >=1,<"]}, "requires[0]", "'>=1,<' is not a valid version specifier"),
        ({"requires": ["ok", "Not An Id"]}, "requires[1]", "not a valid requirement"),
        ({"requires": ["voice_input 1.0"]}, "requires[0]", "'1.0' is not a valid version"),
        (
            {"requires": [{"voice_input": ">=1"}]},
            "requires[0]",
            "a mapping is not a valid requirement",
        ),
        ({"requires": ["tiny"]}, "requires[0]", "cannot require itself"),
        ({"requires": ["a", "a >=1"]}, "requires[1]", "required twice"),
        ({"requires": {"a": 1}}, "requires.a", "the number 1 is not a valid version specifier"),
        ({"requires": {"A": None}}, "requires.A", "not a valid plugin id"),
        ({"requires": "voice_input"}, "requires", "expected a list"),
        ({"provides": ["notes daily"]}, "provides[0]", "not a valid capability name"),
        ({"provides": ["a.b", "a.b"]}, "provides[1]", "listed twice"),
        ({"consumes": "voice.capture"}, "consumes", "expected a list of capability names"),
        ({"commands": ["nodots"]}, "commands[0]", "dotted name such as butler.note.append"),
        ({"commands": [{"title": "No id"}]}, "commands[0].id", "missing"),
        ({"commands": [{"id": "a.b", "run": "x"}]}, "commands[0].run", "unknown key"),
        ({"commands": [{"id": "a.b", "title": 5}]}, "commands[0].title", "expected a string"),
        ({"commands": ["a.b", {"id": "a.b"}]}, "commands[1].id", "listed twice"),
        ({"commands": [7]}, "commands[0]", "got the number 7"),
        ({"settings": [1, 2]}, "settings", "expected a mapping"),
        ({"settings": {"when": datetime.date(2024, 1, 2)}}, "settings.when", "quote it"),
        ({"settings": {"a": {3: "x"}}}, "settings.a", "string keys"),
        ({"butler": ">=banana"}, "butler", "not a valid version specifier"),
        ({"butler": 1}, "butler", "not a valid version specifier"),
        ({"homepage": "x"}, "homepage", "unknown key; known keys are: id, name"),
        ({"": "x"}, "['']", "unknown key"),
        ({7: "x"}, "[the number 7]", "unknown key"),
        ({"requires": {" a": None}}, "requires[' a']", "not a valid plugin id"),
    ],
)
def test_each_problem_names_file_key_and_fix(changes: dict, key: str, fragment: str) -> None:
    error = error_for({**MINIMAL, **changes})
    assert error.file == "demo/plugin.yaml"
    assert [problem[0] for problem in error.problems] == [key]
    assert f"demo/plugin.yaml: {key}: " in str(error)
    assert fragment in str(error)


def test_missing_required_keys_are_all_reported() -> None:
    error = error_for({"description": "no id, name, version or entry"})
    assert [key for key, _ in error.problems] == ["id", "name", "version", "entry"]
    assert "id: missing; every plugin needs an id such as my_plugin" in str(error)


def test_several_problems_are_reported_together() -> None:
    data = {**MINIMAL, "version": "1.x", "entry": "", "provides": [1], "colour": "red"}
    error = error_for(data)
    keys = {key for key, _ in error.problems}
    assert keys == {"version", "entry", "provides[0]", "colour"}
    assert len(str(error).splitlines()) == 4


def test_a_flood_of_problems_is_cut_short() -> None:
    error = error_for({**MINIMAL, "provides": list(range(500))})
    assert len(error.problems) == 31
    assert error.problems[-1] == ("<more>", "470 more problems not shown; fix the ones above first")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (None, "the manifest is empty"),
        ([], "expected a mapping"),
        ("id: x", "got 'id: x'"),
        (3, "got the number 3"),
    ],
)
def test_the_top_level_must_be_a_mapping(data: object, fragment: str) -> None:
    error = error_for(data)
    assert error.problems[0][0] == "<root>"
    assert fragment in str(error)


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "id: demo\nname: Demo\n  version: 1.0.0\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert info.value.problems[0][0] == "<yaml>"
    assert f"{path}: <yaml>: line 3, column 10: invalid YAML" in str(info.value)


def test_yaml_values_pyyaml_cannot_build_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "id: demo\nversion: 2024-13-45\n")
    with pytest.raises(ManifestError, match="<yaml>: cannot be parsed"):
        load_manifest(path)


def test_an_empty_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="<root>: the manifest is empty"):
        load_manifest(write(tmp_path, ""))


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"<file>: cannot be read \(No such file"):
        load_manifest(tmp_path / MANIFEST_NAME)


def test_a_folder_in_place_of_the_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).mkdir()
    with pytest.raises(ManifestError, match="<file>: cannot be read"):
        load_manifest(tmp_path / MANIFEST_NAME)


def test_non_utf8_bytes_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, b"id: caf\xe9\n")
    with pytest.raises(ManifestError, match=r"<file>: is not UTF-8 text \(byte 0xe9 at offset 7\)"):
        load_manifest(path)


def test_control_characters_are_reported_with_their_position(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"<yaml>: character 6: .*unacceptable character"):
        load_manifest(write(tmp_path, "id: a\x00\n"))


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    assert load_manifest(write(tmp_path, "\ufeff" + EXAMPLE)).id == "daily_writer"


def test_self_referencing_settings_do_not_hang(tmp_path: Path) -> None:
    text = "id: a\nname: A\nversion: '1'\nentry: a\nsettings:\n  loop: &x [*x]\n"
    with pytest.raises(ManifestError, match=r"settings\.loop.*nested too deeply"):
        load_manifest(write(tmp_path, text))


def test_alias_bombs_in_settings_are_refused_quickly(tmp_path: Path) -> None:
    lines = ["id: a", "name: A", "version: '1'", "entry: a", "settings:", "  l0: &l0 [x, x, x]"]
    lines += [f"  l{n}: &l{n} [*l{n - 1}, *l{n - 1}, *l{n - 1}]" for n in range(1, 20)]
    with pytest.raises(ManifestError, match="too large"):
        load_manifest(write(tmp_path, "\n".join(lines) + "\n"))


# Anything YAML (or a caller) might hand over, dates included.
_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.dates()
)
_keys = st.text(max_size=10) | st.integers() | st.none() | st.booleans()
json_like = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=20,
)
_fuzz = settings(max_examples=200, deadline=None)


def parses_or_explains(data: object) -> None:
    try:
        manifest = parse_manifest(data, file="fuzz/plugin.yaml")
    except ManifestError as exc:
        assert exc.problems
        for key, message in exc.problems:
            assert key and message.strip()
        assert str(exc).startswith("fuzz/plugin.yaml: ")
    else:
        assert isinstance(manifest, PluginManifest)


@_fuzz
@given(data=json_like)
def test_any_top_level_value_is_parsed_or_explained(data: object) -> None:
    parses_or_explains(data)


@_fuzz
@given(key=st.sampled_from(KNOWN_KEYS), value=json_like)
def test_any_value_of_a_known_key_is_parsed_or_explained(key: str, value: object) -> None:
    parses_or_explains({**MINIMAL, key: value})


@_fuzz
@given(
    items=st.lists(
        st.from_regex(r"[a-z_]{1,6}( ?[<>=!~]{1,3}[0-9.*a-z,<>=]{0,6})?", fullmatch=True)
        | st.text(max_size=12),
        max_size=4,
    )
)
def test_any_requirement_strings_are_parsed_or_explained(items: list[str]) -> None:
    parses_or_explains({**MINIMAL, "requires": items})


_yaml_ish = st.text(alphabet=":-[]{},&*!|>'\"#?%@`\n\t 0aZ._~=<", max_size=60)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.text(max_size=80) | _yaml_ish | st.binary(max_size=80))
def test_any_file_content_loads_or_raises_manifest_error(tmp_path: Path, content) -> None:
    path = write(tmp_path, content)
    try:
        load_manifest(path)
    except ManifestError as exc:
        assert exc.problems and all(message.strip() for _, message in exc.problems)


@_fuzz
@given(data=st.fixed_dictionaries({}, optional={key: json_like for key in KNOWN_KEYS}))
def test_any_mix_of_known_keys_is_parsed_or_explained(data: dict) -> None:
    parses_or_explains(data)
