"""docs/editors/helix.md checked by Helix's own rules, since Helix cannot run here (no Helix
binary on PyPI, npm or Debian bookworm): its ``languages.toml`` against the schema Helix
deserializes it with, its key bindings and commands through a model of Helix's command
line (expansions, then a stream of JSON values), and what comes out through Butler's own
argument and settings checks.

The Helix facts below were read in Helix's sources (helix-editor/helix, 25.07 era); each
says where it comes from.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from butler_ls.lsp.command_table import structure_arguments
from butler_ls.util.config import parse_settings
from tests.guides import GUIDES, guide_block
from tests.helpers import REPO, builtin_schema, load_plugin_module
from tests.unit.test_start_by_path import Editor

# -- Helix's rules -------------------------------------------------------------------

# helix-core/src/syntax/config.rs, LanguageConfiguration: kebab-case, deny_unknown_fields;
# `name`, `scope` and `file-types` have no serde default, so a language Helix does not
# already have (one not merged by name into its languages.toml) must give all three, and
# any other key makes Helix refuse the user's whole file.
LANGUAGE_REQUIRED = {"name", "scope", "file-types"}
LANGUAGE_KEYS = LANGUAGE_REQUIRED | {
    "language-id", "shebangs", "roots", "comment-token", "comment-tokens",
    "block-comment-tokens", "text-width", "soft-wrap", "auto-format", "formatter",
    "path-completion", "diagnostic-severity", "grammar", "injection-regex",
    "language-servers", "indent", "debugger", "auto-pairs", "rulers", "workspace-lsp-roots",
    "persistent-diagnostic-sources",
}  # fmt: skip
# languages.toml (Helix's built-in one): `name = "markdown"`, scope "source.md", with the
# language server "marksman". Plain text has no entry ("text" is only the name Helix
# shows for a document without a language).
BUILTIN_LANGUAGES = {"markdown"}
BUILTIN_LANGUAGE_SERVERS = {"marksman"}
# helix-core/src/syntax/config.rs, LanguageServerConfiguration: `command` (required), `args`,
# `environment`, `config`, `timeout` (u64, `default_timeout()` = 20) and
# `required-root-patterns`. It does not deny unknown keys: a misspelled one is dropped
# without a word, so the test holds the guide to these.
LANGUAGE_SERVER_KEYS = {"command", "args", "environment", "config", "timeout",
                        "required-root-patterns"}  # fmt: skip
DEFAULT_TIMEOUT = 20
# helix-lsp/src/client.rs, call_with_timeout: `Duration::from_secs(timeout_secs)`.
TIMEOUT_UNIT = "seconds"

# book/src/remapping.md and helix-view/src/input.rs: modes of `[keys.<mode>]`, and key
# names (a character, or a named key, after C-, A-, S- modifiers).
KEY_MODES = {"normal", "select", "insert"}
NAMED_KEYS = {"backspace", "space", "ret", "left", "right", "up", "down", "home", "end",
              "pageup", "pagedown", "tab", "del", "ins", "null", "esc", "minus"}  # fmt: skip
KEY = re.compile(r"^(?:[CAS]-)*(?:[^\s-]|" + "|".join(sorted(NAMED_KEYS)) + r"|F\d{1,2})$")

# book/src/command-line.md and helix-core/src/command_line.rs (25.07): an expansion is
# `%<kind><open>...<close>`, kinds "" (variable), "u" (Unicode), "sh" (shell); `%%` is a
# literal `%`; a `%` without a delimiter is an error ("Please use '%%'").
# helix-view/src/expansion.rs, Variable: the 25.07 variables include these (cursor line
# and column count from 1; buffer_name is the path relative to the working directory,
# or with `~`).
EXPANSION_KINDS = {"", "u", "sh"}
DELIMITERS = {"(": ")", "[": "]", "{": "}", "<": ">", "'": "'", '"': '"', "|": "|"}
VARIABLES = {"cursor_line", "cursor_column", "buffer_name", "line_ending"}
# helix-view/src/editor.rs: the default `editor.shell` on Unix is ["sh", "-c"].
SHELL = ["sh", "-c"]
# helix-term/src/commands/typed.rs, lsp_workspace_command: the first argument is the
# command (it must be one the server lists); the rest of the line is one raw token,
# expanded, then read as a stream of JSON values (serde_json's StreamDeserializer), which
# become the request's arguments (none if the stream is empty).
WORKSPACE_COMMAND = "lsp-workspace-command"


class HelixRefuses(Exception):
    """What Helix would answer with an error in its status line."""


def expand(text: str, variables: dict[str, str], cwd: Path, env: dict[str, str]) -> str:
    """Helix's ``expand_inner``: fill in every expansion of one token."""
    out: list[str] = []
    i = 0
    while (j := text.find("%", i)) != -1:
        out.append(text[i:j])
        if text.startswith("%%", j):
            out.append("%")
            i = j + 2
            continue
        kind = re.match(r"%([a-z]*)", text[j:]).group(1)
        k = j + 1 + len(kind)
        if k >= len(text) or text[k] not in DELIMITERS:
            raise HelixRefuses(
                f"missing a string delimiter after '%{kind}'"
                if kind
                else "'%' was not properly escaped. Please use '%%'"
            )
        if kind not in EXPANSION_KINDS:
            raise HelixRefuses(f"unknown expansion '{kind}'")
        content, i = _delimited(text, k)
        if kind == "":
            if content not in variables:
                raise HelixRefuses(f"unknown variable '{content}'")
            out.append(variables[content])
        elif kind == "u":
            out.append(chr(int(content, 16)))
        else:  # sh: the content is expanded first, then run; one trailing newline goes
            command = expand(content, variables, cwd, env)
            done = subprocess.run(
                [*SHELL, command], cwd=cwd, env=env, capture_output=True, text=True, timeout=30
            )
            out.append(done.stdout.removesuffix("\n").removesuffix("\r"))
    out.append(text[i:])
    return "".join(out)


def _delimited(text: str, k: int) -> tuple[str, int]:
    """The content after the opening delimiter at ``k`` and the index after the closing
    one: nested pairs balance; a quote-like delimiter is escaped by doubling it."""
    open_, close = text[k], DELIMITERS[text[k]]
    if open_ == close:
        content, i = [], k + 1
        while (end := text.find(close, i)) != -1:
            if text.startswith(close * 2, end):
                content.append(text[i : end + 1])
                i = end + 2
                continue
            content.append(text[i:end])
            return "".join(content), end + 1
        raise HelixRefuses(f"unterminated token {text[k:]}")
    level, i = 1, k + 1
    while level:
        hit = re.compile(re.escape(open_) + "|" + re.escape(close)).search(text, i)
        if hit is None:
            raise HelixRefuses(f"unterminated token {text[k:]}")
        level += 1 if hit.group() == open_ else -1
        i = hit.end()
    return text[k + 1 : i - 1], i


def run_command_line(
    line: str, variables: dict[str, str], cwd: Path, env: dict[str, str]
) -> tuple[str, list[Any] | None]:
    """What ``:lsp-workspace-command ...`` sends: the command and its arguments."""
    assert line.startswith(":"), f"not a typable command: {line!r}"
    name, _, rest = line[1:].partition(" ")
    assert name == WORKSPACE_COMMAND, f"{line!r}: the guide only uses :{WORKSPACE_COMMAND}"
    command, _, rest = rest.strip(" \t").partition(" ")
    raw = expand(rest.strip(" \t"), variables, cwd, env)
    decoder, values, at = json.JSONDecoder(), [], 0
    while (at := len(raw) - len(raw[at:].lstrip())) < len(raw):
        try:
            value, at = decoder.raw_decode(raw, at)
        except json.JSONDecodeError as exc:
            raise HelixRefuses(f"failed to parse arguments: {exc}") from None
        values.append(value)
    return command, values or None


# -- Butler's side ---------------------------------------------------------------------

ARGUMENTS = {
    "butler.note.open": ("daily_writer", "OpenArguments"),
    "butler.note.append": ("daily_writer", "AppendArguments"),
    "butler.dictation.start": ("voice_input", "StartArguments"),
    "butler.dictation.toggle": ("voice_input", "StartArguments"),
    "butler.dictation.stop": ("voice_input", "SessionArguments"),
    "butler.dictation.cancel": ("voice_input", "SessionArguments"),
    "butler.transcribeFile": ("transcriber", "TranscribeFileArguments"),
    "butler.status": None,
}


def declared_commands() -> set[str]:
    """The commands Butler lists in executeCommandProvider (plugin.yaml, and the core's)."""
    ids = {"butler.status", "butler.plugins.list"}
    for manifest in (REPO / "plugins").glob("*/plugin.yaml"):
        ids |= {c["id"] for c in yaml.safe_load(manifest.read_text()).get("commands", [])}
    return ids


def butler_accepts(command: str, arguments: list[Any] | None) -> Any:
    """Structure the arguments as the server does; raises what the user would be told."""
    assert command in declared_commands(), f"Butler has no command {command}"
    where = ARGUMENTS[command]
    cls = getattr(load_plugin_module(where[0], "plugin"), where[1]) if where else None
    value = structure_arguments(arguments, cls, command)
    if hasattr(value, "check"):
        value.check()
    return value


@pytest.fixture
def shell(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Helix's working directory and environment for %sh{...} (HOME under tmp_path)."""
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    return home, {**os.environ, "HOME": str(home)}


# -- languages.toml ----------------------------------------------------------------------


def test_languages_toml_is_one_helix_loads():
    config = tomllib.loads(guide_block("helix-languages"))
    assert set(config) <= {"language", "language-server"}
    servers = config["language-server"]
    for name, server in servers.items():
        assert set(server) <= LANGUAGE_SERVER_KEYS, (name, set(server) - LANGUAGE_SERVER_KEYS)
        assert isinstance(server["command"], str)
    for language in config["language"]:
        assert set(language) <= LANGUAGE_KEYS, set(language) - LANGUAGE_KEYS
        if language["name"] not in BUILTIN_LANGUAGES:
            missing = LANGUAGE_REQUIRED - set(language)
            assert not missing, f"{language['name']} is new to Helix and lacks {missing}"
            assert all(isinstance(t, str) for t in language["file-types"])
        for used in language.get("language-servers", []):
            used = used if isinstance(used, str) else used["name"]
            assert used in servers or used in BUILTIN_LANGUAGE_SERVERS, used
    attached = {n for lang in config["language"] for n in lang.get("language-servers", [])}
    assert "butler" in attached and servers["butler"]["command"] == "butler-ls"


def test_helix_waits_long_enough_for_a_long_transcription():
    server = tomllib.loads(guide_block("helix-languages"))["language-server"]["butler"]
    timeout = server.get("timeout", DEFAULT_TIMEOUT)
    assert isinstance(timeout, int) and not isinstance(timeout, bool)
    # In seconds (TIMEOUT_UNIT): Helix's 20 s cut off stop and transcribeFile mid-way.
    assert timeout >= 300, f"timeout = {timeout} {TIMEOUT_UNIT}"


def test_the_config_table_is_valid_butler_settings():
    server = tomllib.loads(guide_block("helix-languages"))["language-server"]["butler"]
    settings, warnings = parse_settings(server["config"], builtin_schema())
    assert warnings == []
    assert settings.section("model").vocabulary == ["Helix", "Butler"]


# -- key bindings and commands -------------------------------------------------------------


def _bindings(table: dict[str, Any], path: str) -> list[tuple[str, str]]:
    found = []
    for key, value in table.items():
        assert KEY.match(key), f"{path}.{key}: not a key Helix knows"
        if isinstance(value, dict):
            found += _bindings(value, f"{path}.{key}")
        else:
            assert isinstance(value, str), f"{path}.{key}"
            found.append((f"{path}.{key}", value))
    return found


def key_bindings() -> list[tuple[str, str]]:
    """(key path, command line) of every binding of the guide's config.toml."""
    config = tomllib.loads(guide_block("helix-keys"))
    assert set(config) == {"keys"}
    assert set(config["keys"]) <= KEY_MODES
    return [b for mode, keys in config["keys"].items() for b in _bindings(keys, mode)]


def table_commands() -> list[str]:
    """The command lines of the guide's table of commands."""
    text = (GUIDES / "helix.md").read_text(encoding="utf-8")
    return re.findall(r"^\| `(:lsp-workspace-command [^`]+)` \|", text, flags=re.M)


def test_every_command_of_the_table_reaches_butler_as_it_expects(shell):
    home, env = shell
    lines = table_commands()
    assert len(lines) >= 8
    sent = {}
    for line in lines:
        command, arguments = run_command_line(line, {}, home, env)
        butler_accepts(command, arguments)
        sent[line] = arguments
    # A literal % is written %% and reaches Butler as one.
    escaped = next(line for line in lines if "%%" in line)
    assert "%" in sent[escaped][0]["text"] and "%%" not in sent[escaped][0]["text"]


def test_every_key_sends_a_command_butler_accepts(shell):
    home, env = shell
    variables = {"buffer_name": "notes/draft.md", "cursor_line": "1", "cursor_column": "1"}
    keys = key_bindings()
    assert {path for path, _ in keys} >= {"normal.space.B.v", "normal.space.B.d"}
    for path, line in keys:
        command, arguments = run_command_line(line, variables, home, env)
        assert butler_accepts(command, arguments) is not None, path


@pytest.mark.parametrize(
    "buffer_name",
    ["notes/draft one.md", "~/notes/draft one.md", "notes/it's (1) & +más.md", "{home}/notes/d.md"],
)
def test_the_cursor_key_dictates_where_the_cursor_is(shell, monkeypatch, buffer_name):
    home, env = shell
    monkeypatch.setenv("HOME", str(home))
    buffer_name = buffer_name.format(home=home)
    line = dict(key_bindings())["normal.space.B.d"]
    # Helix's values for the cursor on line 2, before the x (the 8th character), of a
    # file opened from its home folder, the workspace folder Helix gives Butler.
    variables = {"buffer_name": buffer_name, "cursor_line": "2", "cursor_column": "8"}
    command, arguments = run_command_line(line, variables, home, env)
    assert command == "butler.dictation.toggle"
    start = butler_accepts(command, arguments)
    assert start.target == "cursor"
    # The URI Helix sent with didOpen (its url crate writes a space as %20, as Python does),
    # in the position encoding Helix asks for first, UTF-8.
    path = Path(buffer_name).expanduser()
    uri = (home / path if not path.is_absolute() else path).as_uri()
    codec = PositionCodec(encoding=types.PositionEncodingKind.Utf8)
    document = TextDocument(uri, "# Draft\ncafé 🎉 x\n", position_codec=codec)
    start = start.on_document(Editor(home, document))
    assert start.uri == uri
    assert (start.position.line, start.position.character) == (1, 11)  # é 2 bytes, 🎉 4


def test_a_file_name_with_a_quote_does_not_fit_in_the_json(shell):
    home, env = shell
    line = dict(key_bindings())["normal.space.B.d"]
    variables = {"buffer_name": 'say "hi".md', "cursor_line": "1", "cursor_column": "1"}
    with pytest.raises(HelixRefuses, match="failed to parse arguments"):
        run_command_line(line, variables, home, env)


# -- the model of Helix's command line ---------------------------------------------------


def test_the_expansion_model_follows_helix(tmp_path):
    env = dict(os.environ)
    values = {"cursor_line": "4"}
    assert expand("a %{cursor_line} 100%%", values, tmp_path, env) == "a 4 100%"
    assert expand("%<cursor_line>%|cursor_line|", values, tmp_path, env) == "44"
    assert expand("%sh{echo $((%{cursor_line} - 1))}", values, tmp_path, env) == "3"
    assert expand("%u{25CF}", values, tmp_path, env) == "\u25cf"
    for wrong, says in [
        ("100%", "Please use '%%'"),
        ("%{nope}", "unknown variable"),
        ("%x{y}", "unknown expansion"),
        ("%sh{echo", "unterminated"),
    ]:
        with pytest.raises(HelixRefuses, match=re.escape(says)):
            expand(wrong, values, tmp_path, env)
