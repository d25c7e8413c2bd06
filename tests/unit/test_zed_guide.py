"""docs/editors/zed.md checked by Zed's own rules, since neither Zed nor crates.io can be
reached here: the extension's ``extension.toml`` and ``Cargo.toml`` against the schema Zed
reads them with, and the settings block through Butler's own settings engine.

The Zed facts below were read in Zed's sources (zed-industries/zed); each says where.
"""

from __future__ import annotations

import json
import re
import tomllib

from butler_ls.util.config import parse_settings
from tests.guides import guide_block
from tests.helpers import builtin_schema

# crates/extension/src/extension_manifest.rs, ExtensionManifest: `id`, `name`, `version` and
# `schema_version` have no serde default (Zed refuses the manifest without them);
# docs/src/extensions/developing-extensions.md adds `authors` and `description` to what
# "must" be there, with `schema_version = 1`.
MANIFEST_REQUIRED = {"id", "name", "version", "schema_version", "authors", "description"}
MANIFEST_KEYS = MANIFEST_REQUIRED | {
    "repository", "lib", "themes", "icon_themes", "languages", "grammars",
    "language_servers", "context_servers", "agent_servers", "slash_commands", "snippets",
    "capabilities", "debug_adapters", "debug_locators",
}  # fmt: skip
SCHEMA_VERSION = 1
# The same file, LanguageServerManifestEntry: `languages` (or the older `language`),
# `language_ids`, `code_action_kinds`; docs/src/extensions/languages.md also shows `name`.
LANGUAGE_SERVER_KEYS = {"name", "languages", "language", "language_ids", "code_action_kinds"}
# Zed's language names: crates/languages/src/markdown/config.toml (`name = "Markdown"`) and
# crates/language/src/language.rs (PLAIN_TEXT, `name: "Plain Text"`).
ZED_LANGUAGES = {"Markdown", "Plain Text"}
# docs/src/extensions/developing-extensions.md: a Rust extension's Cargo.toml has
# `crate-type = ["cdylib"]` and depends on zed_extension_api.
CRATE_TYPE = ["cdylib"]
# crates/project/src/project_settings.rs, LspSettings: what `lsp.<server>` may hold.
LSP_SETTINGS_KEYS = {"binary", "initialization_options", "settings", "enable_lsp_tasks"}
# docs/src/configuring-languages.md: "..." in `language_servers` stands for the servers
# Zed would otherwise start.
THE_OTHERS = "..."


def strip_comments(jsonc: str) -> str:
    """Zed's settings are JSON with // comments: drop the comments, not // in strings."""
    return re.sub(r'("(?:\\.|[^"\\])*")|//[^\n]*', lambda m: m.group(1) or "", jsonc)


def manifest() -> dict:
    return tomllib.loads(guide_block("zed-extension-toml"))


def settings() -> dict:
    return json.loads(strip_comments(guide_block("zed-settings")))


def test_extension_toml_is_a_manifest_zed_loads():
    found = manifest()
    assert not MANIFEST_REQUIRED - set(found), MANIFEST_REQUIRED - set(found)
    assert set(found) <= MANIFEST_KEYS, set(found) - MANIFEST_KEYS
    assert found["schema_version"] == SCHEMA_VERSION
    assert all(isinstance(found[k], str) for k in ("id", "name", "version", "description"))
    assert found["authors"] and all(isinstance(a, str) for a in found["authors"])
    # developing-extensions.md: ids and names do not contain "zed".
    assert "zed" not in found["id"].lower() and "zed" not in found["name"].lower()
    servers = found["language_servers"]
    assert list(servers) == ["butler"]
    entry = servers["butler"]
    assert set(entry) <= LANGUAGE_SERVER_KEYS, set(entry) - LANGUAGE_SERVER_KEYS
    assert entry["languages"] and set(entry["languages"]) <= ZED_LANGUAGES


def test_cargo_toml_builds_a_zed_extension():
    cargo = tomllib.loads(guide_block("zed-cargo-toml"))
    package = cargo["package"]
    assert {"name", "version", "edition"} <= set(package)
    assert package["version"] == manifest()["version"]
    assert cargo["lib"]["crate-type"] == CRATE_TYPE
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", cargo["dependencies"]["zed_extension_api"])


def test_lib_rs_tells_how_to_install_butler():
    source = guide_block("zed-lib-rs")
    missing = re.search(r'ok_or\("([^"]+)"\)', source)
    assert missing and "pipx install ." in missing.group(1), source
    assert "pipx install butler-ls" not in source  # not on PyPI
    assert 'which("butler-ls")' in source


def test_settings_parse_and_name_the_extensions_server():
    found = settings()
    lsp = found["lsp"]
    assert set(lsp) == set(manifest()["language_servers"])
    assert set(lsp["butler"]) <= LSP_SETTINGS_KEYS, set(lsp["butler"]) - LSP_SETTINGS_KEYS
    languages = found["languages"]
    assert set(languages) <= ZED_LANGUAGES
    for language in languages.values():
        assert "butler" in language["language_servers"]
        assert THE_OTHERS in language["language_servers"]


def test_both_butler_objects_are_valid_settings_without_a_warning():
    butler = settings()["lsp"]["butler"]
    schema = builtin_schema()
    for key in ("initialization_options", "settings"):
        _, warnings = parse_settings(butler[key], schema)
        assert warnings == [], (key, warnings)
    start, _ = parse_settings(butler["initialization_options"], schema)
    assert start.section("notes").directory == "~/notes/daily"
    running, _ = parse_settings(butler["settings"], schema)
    assert running.section("model").vocabulary == ["Zed", "Butler"]


def test_strip_comments_keeps_slashes_in_strings():
    assert json.loads(strip_comments('{"a": "x//y", // note\n "b": 1}')) == {"a": "x//y", "b": 1}
