"""Plugin manifests: read and check a plugin's ``plugin.yaml`` before any of its code is imported.

Every problem is collected and reported at once, each naming the key, what is wrong and the fix
(worded by manifest_problems.py; the keys that name code are checked in manifest_code.py).
"""

from __future__ import annotations

import copy
import keyword
import re
from collections.abc import Mapping
from pathlib import Path

import attrs
import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from butler_ls.host.manifest_code import IDENTIFIER_RE as _IDENTIFIER_RE
from butler_ls.host.manifest_code import (
    Target,
    check_cli,
    check_doctor,
    check_jobs,
    check_schema,
    check_settings,
)
from butler_ls.host.manifest_problems import clip as _clip
from butler_ls.host.manifest_problems import expected as _expected
from butler_ls.host.manifest_problems import invalid as _invalid
from butler_ls.host.manifest_problems import label as _label
from butler_ls.host.manifest_problems import yaml_problem as _yaml_problem
from butler_ls.util.config import SAFE_LOADER
from butler_ls.util.errors import ManifestError

MANIFEST_NAME = "plugin.yaml"
SOURCES = ("builtin", "user", "path", "entry-point")

KNOWN_KEYS = (
    "id", "name", "version", "description", "entry", "requires", "provides",
    "consumes", "commands", "settings", "butler", "doctor",
    "jobs", "cli", "schema",
)  # fmt: skip
_COMMAND_KEYS = ("id", "title", "description")

# fullmatch everywhere: a "$" anchor would let a trailing newline through.
_ID_RE = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*")
_CAPABILITY_RE = re.compile(r"[a-zA-Z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")
_COMMAND_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+")
# "id" then an optional specifier; operators cannot occur in an id, so no space is needed.
_REQUIREMENT_RE = re.compile(r"\s*(?P<id>[^\s<>=!~,]+)\s*(?P<spec>.*?)\s*", re.DOTALL)

_ID_HINT = "lowercase letters, digits, _ and - (dot-separated), e.g. my_plugin"
_SPEC_HINT = 'a PEP 440 specifier set such as ">=0.1,<1"'
_CAPABILITY_HINT = "dot-separated letters, digits, _ and -, e.g. notes.daily"
_COMMAND_HINT = "a dotted name such as butler.note.append"
_ENTRY_HINT = "module or module:attribute in dotted Python names, e.g. plugin:MyPlugin"
_REQUIREMENT_HINT = "voice_input >=0.1,<1"
_COMMAND_FORMS = "command ids or {id, title, description} mappings"

# A list of ten thousand wrong items is one mistake; the rest would bury it.
_MAX_PROBLEMS_SHOWN = 30


def specifier_allows(specifier: str, version: str) -> bool:
    """Whether ``version`` fits a PEP 440 ``specifier`` ("" allows all); never raises."""
    try:
        parsed = Version(version)
    except (InvalidVersion, TypeError):
        return False
    if not specifier.strip():
        return True
    try:
        # A plugin at 0.2.0a1 should satisfy ">=0.1"; pre-releases are how plugins are tried.
        return SpecifierSet(specifier).contains(parsed, prereleases=True)
    except InvalidSpecifier:
        return False


@attrs.frozen
class Requirement:
    """Another plugin that must be active first, optionally within a version range."""

    id: str
    """The required plugin's id."""
    specifier: str = ""
    """A PEP 440 specifier set such as ``>=0.1,<1``; empty means any version."""

    def allows(self, version: str) -> bool:
        """Whether the required plugin at ``version`` satisfies this requirement."""
        return specifier_allows(self.specifier, version)

    def __str__(self) -> str:
        return f"{self.id} {self.specifier}" if self.specifier else self.id


@attrs.frozen
class CommandSpec:
    """A command the plugin offers through ``workspace/executeCommand``."""

    id: str
    """The dotted command id, such as ``butler.note.append``."""
    title: str
    """What editors show in menus; the id when the manifest gives none."""
    description: str = ""
    """A longer explanation for help screens."""


@attrs.frozen
class PluginManifest:
    """Everything ``plugin.yaml`` says about a plugin, checked."""

    id: str
    """Unique plugin id, such as ``daily_writer``."""
    name: str
    """Human-readable name."""
    version: str
    """The plugin's PEP 440 version, as written."""
    description: str
    """What the plugin does, in a sentence; may be empty."""
    entry_module: str
    """Dotted module, relative to the plugin folder, that holds the plugin."""
    entry_attr: str | None
    """Attribute of ``entry_module`` to load, or None for the module itself."""
    requires: tuple[Requirement, ...] = ()
    """Plugins that must be active before this one."""
    provides: tuple[str, ...] = ()
    """Capability names this plugin offers."""
    consumes: tuple[str, ...] = ()
    """Capabilities used when present; they only order activation, never block it."""
    commands: tuple[CommandSpec, ...] = ()
    """Commands the plugin offers."""
    jobs: tuple[Target, ...] = ()
    """Job kinds the plugin's code runs in the worker, each with its handler."""
    cli: tuple[Target, ...] = ()
    """``butler-ls`` sub-commands the plugin provides, each with its ``main(args)``."""
    schema: tuple[Target, ...] = ()
    """Settings sections the plugin owns, each with its attrs class (``module:Class``)."""
    settings: dict = attrs.field(factory=dict, hash=False)
    """Defaults of an untyped section named after the plugin, JSON-like."""
    butler: str = ""
    """Butler versions the plugin works with (specifier set); empty means any."""
    doctor: str = ""
    """``module:function`` (relative to the plugin) giving its ``butler-ls doctor`` checks."""
    folder: Path | None = None
    """The plugin folder, or None for plugins without one (entry points)."""
    source: str = attrs.field(default="path", validator=attrs.validators.in_(SOURCES))
    """Where the plugin was found: builtin, user, path or entry-point."""
    file: str = ""
    """The manifest file, for messages."""


def load_manifest(path: Path, *, source: str = "path") -> PluginManifest:
    """Read and check the manifest at ``path``; raise ManifestError for any problem."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        why = f"cannot be read ({exc.strerror or type(exc).__name__})"
        fix = f"each plugin folder needs a readable {MANIFEST_NAME}"
        raise ManifestError(file, [("<file>", f"{why}; {fix}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        why = f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        raise ManifestError(file, [("<file>", f"{why}; save it as UTF-8")]) from None
    try:
        data = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise ManifestError(file, [("<yaml>", _yaml_problem(exc))]) from None
    except Exception as exc:
        # PyYAML lets plain errors out for some inputs (ValueError for a date such as
        # 2024-13-45, RecursionError for deep nesting); the file is what is broken either way.
        why = f"cannot be parsed ({type(exc).__name__}: {_clip(str(exc))})"
        raise ManifestError(file, [("<yaml>", f"{why}; check the YAML")]) from None
    return parse_manifest(data, file=file, folder=Path(path).parent, source=source)


def parse_manifest(
    data: object, *, file: str, folder: Path | None = None, source: str = "path"
) -> PluginManifest:
    """Check loaded manifest ``data`` and build a PluginManifest; raise ManifestError if invalid."""
    if data is None:
        empty = "the manifest is empty; it needs at least id, name, version and entry"
        raise ManifestError(file, [("<root>", empty)])
    if not isinstance(data, Mapping):
        expected = "a mapping of keys such as id, name, version and entry"
        raise ManifestError(file, [_expected("<root>", data, expected)])

    problems: list[tuple[str, str]] = []
    for key in data:
        if not (isinstance(key, str) and key in KNOWN_KEYS):
            problems.append((_label(key), f"unknown key; known keys are: {', '.join(KNOWN_KEYS)}"))
    plugin_id = _required_text(data, "id", "an id such as my_plugin", problems, _ID_RE)
    name = _required_text(data, "name", 'a name such as "Daily notes"', problems, None)
    version = _check_version(data, problems)
    entry_module, entry_attr = _check_entry(data, problems)
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(_expected("description", description, "a sentence of text"))
    butler = data.get("butler")
    if butler is not None and not (isinstance(butler, str) and _parses(SpecifierSet, butler)):
        problems.append(_invalid("butler", butler, "version specifier", _SPEC_HINT))
    requires = _check_requires(data.get("requires"), plugin_id, problems)
    provides = _check_names(data, "provides", problems)
    consumes = _check_names(data, "consumes", problems)
    commands = _check_commands(data.get("commands"), problems)
    jobs = check_jobs(data.get("jobs"), problems)
    cli = check_cli(data.get("cli"), problems)
    settings = check_settings(data.get("settings"), problems)
    schema = check_schema(data.get("schema"), plugin_id or "my_plugin", problems)
    if settings and any(target.name == plugin_id for target in schema):
        why = f"the defaults of section {plugin_id!r} come from its class in schema; drop these"
        problems.append(("settings", why))
    doctor = check_doctor(data.get("doctor"), problems)

    if problems:
        if len(problems) > _MAX_PROBLEMS_SHOWN:
            hidden = len(problems) - _MAX_PROBLEMS_SHOWN
            more = ("<more>", f"{hidden} more problems not shown; fix the ones above first")
            problems = [*problems[:_MAX_PROBLEMS_SHOWN], more]
        raise ManifestError(file, problems)
    return PluginManifest(
        id=plugin_id, name=name, version=version, description=description or "",
        entry_module=entry_module, entry_attr=entry_attr, requires=requires,
        provides=provides, consumes=consumes, commands=commands, jobs=jobs, cli=cli,
        schema=schema, settings=copy.deepcopy(settings), butler=(butler or "").strip(),
        folder=folder, source=source, file=file, doctor=doctor,
    )  # fmt: skip


def _required_text(data: Mapping, key: str, needs: str, problems: list, pattern) -> str:
    value = data.get(key)
    if key not in data:
        problems.append((key, f"missing; every plugin needs {needs}"))
    elif not isinstance(value, str) or not value.strip():
        problems.append(_expected(key, value, f"a non-empty string: {needs}"))
    elif pattern is not None and not pattern.fullmatch(value):
        problems.append(_invalid(key, value, key, _ID_HINT))
    else:
        return value.strip()
    return ""


def _check_version(data: Mapping, problems: list) -> str:
    value = data.get("version")
    if "version" not in data:
        problems.append(("version", "missing; every plugin needs a version such as 0.1.0"))
    elif isinstance(value, float):
        # YAML reads 1.10 as the float 1.1: what was meant is lost, so ask for quotes.
        problems.append(("version", f'got the number {value!r}; quote it, e.g. "1.10.0"'))
    elif not isinstance(value, str | int) or isinstance(value, bool):
        problems.append(_expected("version", value, "a version such as 0.1.0"))
    elif not _parses(Version, str(value)):
        problems.append(_invalid("version", value, "version", "a PEP 440 version such as 1.0.0"))
    else:
        return str(value).strip()
    return ""


def _check_entry(data: Mapping, problems: list) -> tuple[str, str | None]:
    value = data.get("entry")
    if "entry" not in data:
        problems.append(("entry", f"missing; every plugin needs an entry: {_ENTRY_HINT}"))
        return "", None
    if not isinstance(value, str):
        problems.append(_expected("entry", value, _ENTRY_HINT))
        return "", None
    module, colon, attr = value.strip().partition(":")
    names = [*module.split("."), *([attr] if colon else [])]
    if not all(_IDENTIFIER_RE.fullmatch(n) and not keyword.iskeyword(n) for n in names):
        problems.append(_invalid("entry", value, "entry", _ENTRY_HINT))
        return "", None
    return module, attr if colon else None


def _check_requires(value: object, plugin_id: str, problems: list) -> tuple[Requirement, ...]:
    if value is None:
        return ()
    found: list[tuple[str, Requirement]] = []
    if isinstance(value, Mapping):
        for key, spec in value.items():
            label = _label(key, "requires")
            if not isinstance(key, str) or not _ID_RE.fullmatch(key):
                problems.append(_invalid(label, key, "plugin id", _ID_HINT))
            elif spec is not None and not (isinstance(spec, str) and _parses(SpecifierSet, spec)):
                problems.append(_invalid(label, spec, "version specifier", _SPEC_HINT))
            else:
                found.append((label, Requirement(key, (spec or "").strip())))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            requirement = _parse_requirement(item, f"requires[{index}]", problems)
            if requirement is not None:
                found.append((f"requires[{index}]", requirement))
    else:
        expected = f"a list such as [{_REQUIREMENT_HINT}] or a mapping of plugin id to specifier"
        problems.append(_expected("requires", value, expected))
    seen: set[str] = set()
    for label, requirement in found:
        if requirement.id == plugin_id:
            problems.append((label, f"a plugin cannot require itself ({plugin_id!r}); remove it"))
        elif requirement.id in seen:
            problems.append((label, f"{requirement.id!r} is required twice; keep one entry"))
        seen.add(requirement.id)
    return tuple(requirement for _, requirement in found)


def _parse_requirement(item: object, label: str, problems: list) -> Requirement | None:
    hint = f'"plugin_id" or "plugin_id SPECIFIER", e.g. "{_REQUIREMENT_HINT}"'
    match = _REQUIREMENT_RE.fullmatch(item) if isinstance(item, str) else None
    if match is None or not _ID_RE.fullmatch(match["id"]):
        problems.append(_invalid(label, item, "requirement", hint))
        return None
    if match["spec"] and not _parses(SpecifierSet, match["spec"]):
        problems.append(_invalid(label, match["spec"], "version specifier", _SPEC_HINT))
        return None
    return Requirement(match["id"], match["spec"])


def _check_names(data: Mapping, key: str, problems: list) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        problems.append(_expected(key, value, "a list of capability names such as [notes.daily]"))
        return ()
    names: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not _CAPABILITY_RE.fullmatch(item):
            problems.append(_invalid(f"{key}[{index}]", item, "capability name", _CAPABILITY_HINT))
        elif item in names:
            problems.append((f"{key}[{index}]", f"{item!r} is listed twice; keep one"))
        else:
            names.append(item)
    return tuple(names)


def _check_commands(value: object, problems: list) -> tuple[CommandSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        problems.append(_expected("commands", value, f"a list of {_COMMAND_FORMS}"))
        return ()
    commands: list[CommandSpec] = []
    for index, item in enumerate(value):
        label = f"commands[{index}]"
        if isinstance(item, str):
            fields, id_label = {"id": item}, label
        elif isinstance(item, Mapping):
            fields, id_label = _command_fields(item, label, problems), f"{label}.id"
            if "id" not in item:
                problems.append((id_label, "missing; every command needs an id such as my.command"))
        else:
            problems.append(_expected(label, item, _COMMAND_FORMS))
            continue
        command_id = fields.get("id")
        if command_id is None:
            continue  # already reported: missing or not a string
        if not _COMMAND_RE.fullmatch(command_id):
            problems.append(_invalid(id_label, command_id, "command id", _COMMAND_HINT))
        elif any(command.id == command_id for command in commands):
            problems.append((id_label, f"{command_id!r} is listed twice; command ids are unique"))
        else:
            title = fields.get("title") or command_id
            commands.append(CommandSpec(command_id, title, fields.get("description", "")))
    return tuple(commands)


def _command_fields(item: Mapping, label: str, problems: list) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in item.items():
        key_label = _label(key, label)
        if not (isinstance(key, str) and key in _COMMAND_KEYS):
            problems.append((key_label, f"unknown key; commands take {', '.join(_COMMAND_KEYS)}"))
        elif not isinstance(value, str):
            problems.append(_expected(key_label, value, "a string"))
        else:
            fields[key] = value
    return fields


def _parses(parser: type[Version | SpecifierSet], text: str) -> bool:
    try:
        parser(text)
    except (InvalidVersion, InvalidSpecifier):
        return False
    return True
