"""Settings: merge order, validation with per-key fallback, the YAML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from butler_ls.util.config import (
    SettingsSources,
    deep_merge,
    expand_dotted,
    load_settings_file,
    parse_settings,
    to_wire,
)
from tests.helpers import builtin_schema

SCHEMA = builtin_schema()


def parse(raw, schema=SCHEMA):
    """parse_settings with the built-in plugins' sections, as the server reads them."""
    return parse_settings(raw, schema)


def section(settings, name):
    """A core section (a field) or a plugin's (``sections``)."""
    return (
        getattr(settings, name)
        if name in ("queue", "throttle", "plugins")
        else (settings.section(name))
    )


def test_defaults_match_the_interface():
    settings, warnings = parse({})
    assert warnings == []
    wire = to_wire(settings)
    assert wire["notes"]["filenameFormat"] == "%Y-%m-%d.md"
    assert wire["model"] == {
        "name": "tiny.en",
        "device": "auto",
        "computeType": "auto",
        "language": None,
        "vocabulary": [],
        "window": "fit",
    }
    assert wire["queue"]["backend"] == "sqlite"
    assert wire["throttle"]["onBattery"] == "defer"
    assert wire["plugins"] == {"disabled": [], "paths": []}


def test_later_sources_override_earlier_ones_key_by_key():
    sources = SettingsSources(
        file={"notes": {"directory": "/file", "template": "/t.md"}, "model": {"name": "a"}},
        initialization={"notes": {"directory": "/init"}, "model.language": "en"},
        workspace={"notes": {"directory": "/ws"}},
    )
    settings, warnings = parse(sources.merged())
    assert warnings == []
    assert settings.section("notes").directory == "/ws"
    assert settings.section("notes").template == "/t.md"
    assert settings.section("model").name == "a"
    assert settings.section("model").language == "en"


@pytest.mark.parametrize(
    ("raw", "key", "field", "default"),
    [
        (
            {"notes": {"filenameFormat": 3}},
            "butler.notes.filenameFormat",
            "filename_format",
            "%Y-%m-%d.md",
        ),
        ({"queue": {"backend": "kafka"}}, "butler.queue.backend", "backend", "sqlite"),
        (
            {"throttle": {"maxCpuPercent": 250}},
            "butler.throttle.maxCpuPercent",
            "max_cpu_percent",
            85.0,
        ),
        (
            {"throttle": {"minBatteryPercent": True}},
            "butler.throttle.minBatteryPercent",
            "min_battery_percent",
            20,
        ),
        ({"plugins": {"disabled": "voice_input"}}, "butler.plugins.disabled", "disabled", []),
        ({"model": {"vocabulary": ["ok", 7]}}, "butler.model.vocabulary", "vocabulary", []),
    ],
)
def test_a_bad_value_warns_by_name_and_falls_back(raw, key, field, default):
    settings, warnings = parse(raw)
    assert len(warnings) == 1
    assert warnings[0].startswith(key)
    found = section(settings, key.split(".")[1])
    assert getattr(found, field) == default


def test_good_values_beside_a_bad_one_are_kept():
    settings, warnings = parse({"notes": {"directory": "/n", "filenameFormat": None}})
    assert settings.section("notes").directory == "/n"
    assert len(warnings) == 1


def test_unknown_keys_warn_with_a_suggestion():
    _, warnings = parse({"notse": {}, "model": {"nmae": "x"}})
    assert any("butler.notse" in w and "did you mean 'notes'" in w for w in warnings)
    assert any("butler.model.nmae" in w and "did you mean 'name'" in w for w in warnings)


def test_a_section_that_is_not_an_object_keeps_its_defaults():
    settings, warnings = parse({"model": "tiny"})
    assert settings.section("model").name == "tiny.en"
    assert "butler.model: expected an object" in warnings[0]


def test_not_an_object_at_all():
    settings, warnings = parse(["notes"])
    assert settings == parse({})[0]
    assert "expected an object" in warnings[0]


def test_numbers_are_accepted_where_a_float_is_expected():
    settings, warnings = parse({"throttle": {"maxCpuPercent": 50}})
    assert warnings == []
    assert settings.throttle.max_cpu_percent == 50.0
    assert isinstance(settings.throttle.max_cpu_percent, float)


def test_audio_device_by_name_or_index():
    assert parse({"audio": {"device": 2}})[0].section("audio").device == 2
    assert parse({"audio": {"device": "USB"}})[0].section("audio").device == "USB"
    _, warnings = parse({"audio": {"device": [1]}})
    assert "a string or a whole number or null" in warnings[0]


def test_plugin_sections_follow_manifest_defaults():
    defaults = {"word_count": {"countNumbers": True, "limit": 10}}
    settings, warnings = parse(
        {"word_count": {"countNumbers": False, "limit": "lots", "other": 1}}, defaults
    )
    assert settings.section("word_count") == {"countNumbers": False, "limit": 10}
    assert any("butler.word_count.limit" in w for w in warnings)
    assert any("butler.word_count.other" in w for w in warnings)


def test_dotted_keys_nest():
    assert expand_dotted({"notes.directory": "/a", "notes": {"template": "t"}}) == {
        "notes": {"directory": "/a", "template": "t"}
    }


def test_deep_merge_replaces_lists_and_scalars():
    assert deep_merge({"a": {"b": [1], "c": 1}}, {"a": {"b": [2]}}) == {"a": {"b": [2], "c": 1}}


def test_settings_file(tmp_path: Path):
    missing = load_settings_file(tmp_path / "none.yaml")
    assert missing == ({}, [])
    good = tmp_path / "good.yaml"
    good.write_text("notes:\n  directory: ~/notes\n")
    assert load_settings_file(good) == ({"notes": {"directory": "~/notes"}}, [])
    broken = tmp_path / "broken.yaml"
    broken.write_text("notes:\n  directory: [a\n")
    data, problems = load_settings_file(broken)
    assert data == {}
    assert "broken.yaml" in problems[0] and "line" in problems[0]
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n")
    assert "expected a mapping" in load_settings_file(listy)[1][0]
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    assert "cannot read" in load_settings_file(binary)[1][0]
