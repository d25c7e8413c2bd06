"""The ``butler`` settings object: typed, validated, merged from its three sources.

Sources, later overriding earlier: the YAML file, ``initializationOptions``, and
``workspace/configuration``. A bad key is reported by name and falls back to its default.

This is the settings engine: the core declares its own sections here (queue, throttle,
plugins); each plugin declares its sections as attrs classes of its own (``setting()``
fields, ``between()`` checks) named in its manifest's ``schema:``, and the engine checks
them the same way under the plugin's keys.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import yaml

from butler_ls.util.setting_types import kind_of, type_problem

T = typing.TypeVar("T")

SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""YAML's safe loader, in C (libyaml) where PyYAML has it: ten times faster than Python's."""

Check = typing.Callable[[Any], "str | None"]
"""A value check: None when the value is fine, else what is wrong (``must be ...``)."""


def between(low: float, high: float) -> Check:
    """A check that a number lies between ``low`` and ``high`` (both allowed)."""

    def check(value: Any) -> str | None:
        if not low <= value <= high:
            return f"must be between {_number(low)} and {_number(high)}"
        return None

    return check


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def setting(
    default: Any = attrs.NOTHING,
    *,
    factory: typing.Callable[[], Any] | None = None,
    check: Check | None = None,
) -> Any:
    """A field of a settings class: its default (or ``factory``) and an optional ``check``.

    The type comes from the field's annotation; the settings engine checks the type first,
    then ``check``, and falls back to the default (with a warning naming the key) when
    either fails.
    """
    metadata = {"check": check} if check is not None else {}
    if factory is not None:
        return attrs.field(factory=factory, metadata=metadata)
    return attrs.field(default=default, metadata=metadata)


@attrs.frozen
class QueueSettings:
    """``queue.*``: the task queue between the server and its transcription worker."""

    backend: Literal["sqlite", "redis"] = "sqlite"
    """``sqlite`` (one machine, no server) or ``redis`` (workers on other machines)."""

    url: str | None = None
    """Redis URL such as ``redis://host:6379/0`` when the backend is ``redis``."""

    directory: str | None = None
    """Folder of the SQLite queue; default is ``queue/`` in Butler's data folder."""


@attrs.frozen
class ThrottleSettings:
    """``throttle.*``: when batch work waits so the machine stays responsive."""

    max_cpu_percent: float = setting(85.0, check=between(1, 100))
    """Batch work waits while system CPU load is above this."""

    min_free_memory_mb: int = setting(500, check=between(0, 1 << 20))
    """Batch work waits while less memory than this is available."""

    on_battery: Literal["defer", "run"] = "defer"
    """What batch work does on battery power."""

    min_battery_percent: int = setting(20, check=between(0, 100))
    """On battery, batch work waits below this charge."""


@attrs.frozen
class PluginsSettings:
    """``plugins.*``: which plugins load."""

    disabled: list[str] = attrs.field(factory=list)
    """Plugin ids not to load."""

    paths: list[str] = attrs.field(factory=list)
    """Extra folders to search for plugins (each plugin is a sub-folder with plugin.yaml)."""


Section = type | Mapping[str, Any] | None
"""How the settings engine reads one plugin's section: an attrs settings class (typed and
checked field by field), a mapping of defaults (untyped: each value must have its default's
kind), or None (a known section that is not read: its plugin is disabled or failed)."""

Schema = Mapping[str, Section]
"""Plugin-owned sections by their wire name (``notes``, ``model``, ``voice_input``...)."""


@attrs.frozen
class Settings:
    """The whole ``butler`` settings object, validated.

    The core's own sections are fields; every other section belongs to a plugin, which
    declares it in its manifest (``schema:`` or ``settings:``) and reads it back with
    ``get(ItsClass)`` or ``section(name)``.
    """

    queue: QueueSettings = QueueSettings()
    throttle: ThrottleSettings = ThrottleSettings()
    plugins: PluginsSettings = PluginsSettings()
    sections: Mapping[str, Any] = attrs.field(factory=dict)
    """Plugin-owned sections by wire name: instances of their classes, or dicts."""

    def section(self, name: str) -> Any:
        """The plugin-owned section ``name`` (None when no plugin declares it)."""
        return self.sections.get(name)

    def get(self, cls: type[T]) -> T:
        """The section whose settings class is ``cls``; its defaults when none is loaded."""
        for value in self.sections.values():
            if type(value) is cls:
                return value
        return cls()


CORE_SECTIONS = frozenset({"queue", "throttle", "plugins"})
"""Sections the core owns; no plugin may declare one of these."""


def camel(name: str) -> str:
    """``filename_format`` -> ``filenameFormat``: the wire spelling of a field."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge two settings objects; mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def expand_dotted(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Accept ``{"notes.directory": x}`` as ``{"notes": {"directory": x}}`` (flat configs)."""
    nested: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, Mapping):
            value = expand_dotted(value)
        if isinstance(key, str) and "." in key:
            head, _, tail = key.partition(".")
            value = {tail: value}
            key = head
            value = expand_dotted(value)
        if isinstance(value, Mapping) and isinstance(nested.get(key), Mapping):
            nested[key] = deep_merge(nested[key], value)
        else:
            nested[key] = value
    return nested


def load_settings_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Read the YAML settings file; a missing file is empty, a broken one is a warning."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [f"{path}: cannot read the settings file ({exc}); using the defaults"]
    try:
        data = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return {}, [f"{path}: invalid YAML{where}: {problem}; fix it or delete it"]
    if data is None:
        return {}, []
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        return {}, [f"{path}: expected a mapping of settings at the top, got {kind}"]
    return dict(data), []


def parse_settings(raw: Any, schema: Schema | None = None) -> tuple[Settings, list[str]]:
    """Validate a raw ``butler`` object into Settings, with one warning per bad key.

    ``schema`` names the plugin-owned sections (see ``Section``); a top-level key that is
    neither the core's nor in ``schema`` is an unknown setting.
    """
    warnings: list[str] = []
    schema = {name: kind for name, kind in (schema or {}).items() if name not in CORE_SECTIONS}
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        warnings.append(f"butler: expected an object of settings, got {kind_of(raw)}; ignored")
        raw = {}
    raw = expand_dotted(raw)
    core = {k: v for k, v in raw.items() if k not in schema}
    settings = _structure(Settings, core, "butler", warnings, extra=set(schema))
    sections: dict[str, Any] = {}
    for name, kind in schema.items():
        if kind is None:
            continue
        if isinstance(kind, Mapping):
            sections[name] = _plugin_section(name, kind, raw.get(name), warnings)
        else:
            sections[name] = section_of(kind, raw.get(name), f"butler.{name}", warnings)
    return attrs.evolve(settings, sections=sections), warnings


def section_of(cls: type[T], raw: Any, where: str, warnings: list[str]) -> T:
    """One typed section from its raw value (None: the defaults); problems go to ``warnings``."""
    if raw is None:
        return cls()
    if not isinstance(raw, Mapping):
        warnings.append(f"{where}: expected an object, got {kind_of(raw)}; using the defaults")
        return cls()
    return _structure(cls, expand_dotted(raw), where, warnings)


def _structure(
    cls: type,
    raw: Mapping[str, Any],
    where: str,
    warnings: list[str],
    extra: set[str] | frozenset[str] = frozenset(),
) -> Any:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    known = {}
    for field in attrs.fields(cls):
        if field.name == "sections":
            continue
        known[camel(field.name)] = field
    for key, value in raw.items():
        field = known.get(key) if isinstance(key, str) else None
        if field is None:
            if key in extra:
                continue
            hint = difflib.get_close_matches(str(key), [*known, *sorted(extra)], n=1)
            maybe = f"; did you mean '{hint[0]}'?" if hint else ""
            warnings.append(f"{where}.{key}: unknown setting, ignored{maybe}")
            continue
        path = f"{where}.{key}"
        ftype = hints[field.name]
        if attrs.has(ftype):
            if isinstance(value, Mapping):
                values[field.name] = _structure(ftype, value, path, warnings)
            else:
                warnings.append(
                    f"{path}: expected an object, got {kind_of(value)}; using the defaults"
                )
            continue
        problem = type_problem(value, ftype)
        if problem is None and (check := field.metadata.get("check")):
            problem = check(value)
        if problem is not None:
            default = (
                field.default.factory()
                if isinstance(field.default, attrs.Factory)
                else field.default
            )  # type: ignore[union-attr]
            warnings.append(f"{path}: {problem}, got {value!r}; using the default {default!r}")
            continue
        values[field.name] = float(value) if ftype is float else value
    return cls(**values)


def _plugin_section(
    name: str, defaults: Mapping[str, Any], raw: Any, warnings: list[str]
) -> dict[str, Any]:
    """An untyped section: each value must have its default's kind."""
    section = dict(defaults)
    if raw is None:
        return section
    where = f"butler.{name}"
    if not isinstance(raw, Mapping):
        warnings.append(f"{where}: expected an object, got {kind_of(raw)}; using the defaults")
        return section
    for key, value in raw.items():
        if key not in defaults:
            warnings.append(f"{where}.{key}: unknown setting of plugin {name}, ignored")
            continue
        default = defaults[key]
        if default is not None and not _same_kind(value, default):
            warnings.append(
                f"{where}.{key}: expected {kind_of(default)}, got {value!r}; "
                f"using the default {default!r}"
            )
            continue
        section[key] = value
    return section


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int | float):
        return isinstance(value, int | float)
    if isinstance(default, Mapping):
        return isinstance(value, Mapping)
    return isinstance(value, type(default))


def wire_form(value: Any) -> Any:
    """A settings object (or one section) as JSON with camelCase keys."""
    if attrs.has(type(value)):
        return {camel(f.name): wire_form(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, list | tuple):
        return [wire_form(v) for v in value]
    if isinstance(value, Mapping):
        return {k: wire_form(v) for k, v in value.items()}
    return value


def to_wire(settings: Settings) -> dict[str, Any]:
    """The settings as the camelCase ``butler`` object (for status and docs): the core's
    sections, then each plugin's, as a user writes them."""
    wire = {
        camel(f.name): wire_form(getattr(settings, f.name))
        for f in attrs.fields(Settings)
        if f.name != "sections"
    }
    wire.update({name: wire_form(value) for name, value in settings.sections.items()})
    return wire


@attrs.define
class SettingsSources:
    """The three raw sources of the ``butler`` object, kept apart so each can be re-read."""

    file: dict[str, Any] = attrs.field(factory=dict)
    """From ``config.yaml`` in the user config folder."""

    initialization: dict[str, Any] = attrs.field(factory=dict)
    """From the ``initialize`` request's ``initializationOptions``."""

    workspace: dict[str, Any] = attrs.field(factory=dict)
    """From ``workspace/configuration`` (section ``butler``), re-read on change."""

    def merged(self) -> dict[str, Any]:
        """File, then initializationOptions, then workspace/configuration."""
        merged: dict[str, Any] = {}
        for source in (self.file, self.initialization, self.workspace):
            if isinstance(source, Mapping):
                merged = deep_merge(merged, expand_dotted(source))
        return merged
