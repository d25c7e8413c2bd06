"""The ``butler`` settings object: typed, validated, merged from its three sources.

Sources, later overriding earlier: the YAML file, ``initializationOptions``, and
``workspace/configuration``. A bad key is reported by name and falls back to its default.
"""

from __future__ import annotations

import difflib
import types as pytypes
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import yaml


def _between(low: float, high: float) -> typing.Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not low <= value <= high:
            return f"must be between {low:g} and {high:g}"
        return None

    return check


def _check(check: typing.Callable[[Any], str | None]) -> dict[str, Any]:
    return {"check": check}


@attrs.frozen
class NotesSettings:
    """``notes.*``: where daily notes live and how entries look."""

    directory: str | None = None
    """Notes folder; default ``notes/daily`` under the first workspace folder, else home."""

    filename_format: str = "%Y-%m-%d.md"
    """strftime pattern of a note's path inside the folder; subfolders allowed."""

    template: str | None = None
    """Path of a template file for new notes (placeholders are described in the docs)."""

    entry_format: str = "- {time:%H:%M} {text}"
    """Format of an appended entry; ``{time}`` is a datetime, ``{text}`` the entry."""


@attrs.frozen
class ModelSettings:
    """``model.*``: the speech-to-text model the worker loads."""

    name: str = "tiny.en"
    """The bundled ``tiny.en``, a CTranslate2 Whisper folder, or a locally cached model name."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where the model runs; ``auto`` picks CUDA when present, else the CPU."""

    compute_type: str = "auto"
    """CTranslate2 compute type; ``auto`` is int8 on CPU and float16 on CUDA."""

    language: str | None = None
    """Spoken language code (``en``, ``fr``...); unset means detect (or English for .en models)."""

    vocabulary: list[str] = attrs.field(factory=list)
    """Words to favour: names, jargon, identifiers."""


@attrs.frozen
class AudioSettings:
    """``audio.*``: microphone input."""

    device: str | int | None = None
    """Input device by name (substring) or index; unset means the system default input."""


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

    max_cpu_percent: float = attrs.field(default=85.0, metadata=_check(_between(1, 100)))
    """Batch work waits while system CPU load is above this."""

    min_free_memory_mb: int = attrs.field(default=500, metadata=_check(_between(0, 1 << 20)))
    """Batch work waits while less memory than this is available."""

    on_battery: Literal["defer", "run"] = "defer"
    """What batch work does on battery power."""

    min_battery_percent: int = attrs.field(default=20, metadata=_check(_between(0, 100)))
    """On battery, batch work waits below this charge."""


@attrs.frozen
class PluginsSettings:
    """``plugins.*``: which plugins load."""

    disabled: list[str] = attrs.field(factory=list)
    """Plugin ids not to load."""

    paths: list[str] = attrs.field(factory=list)
    """Extra folders to search for plugins (each plugin is a sub-folder with plugin.yaml)."""


@attrs.frozen
class Settings:
    """The whole ``butler`` settings object, validated."""

    notes: NotesSettings = NotesSettings()
    model: ModelSettings = ModelSettings()
    audio: AudioSettings = AudioSettings()
    queue: QueueSettings = QueueSettings()
    throttle: ThrottleSettings = ThrottleSettings()
    plugins: PluginsSettings = PluginsSettings()
    plugin_settings: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    """Sections of plugins, by plugin id: the manifest's defaults with the user's values."""


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
        data = yaml.safe_load(text)
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


def parse_settings(
    raw: Any, plugin_defaults: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[Settings, list[str]]:
    """Validate a raw ``butler`` object into Settings, with one warning per bad key.

    ``plugin_defaults`` maps plugin ids to the default settings of their manifests; a
    top-level key naming such a plugin is that plugin's section.
    """
    warnings: list[str] = []
    plugin_defaults = plugin_defaults or {}
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        warnings.append(f"butler: expected an object of settings, got {_kind(raw)}; ignored")
        raw = {}
    raw = expand_dotted(raw)
    core = {k: v for k, v in raw.items() if k not in plugin_defaults or k in _CORE_KEYS}
    settings = _structure(Settings, core, "butler", warnings, extra=set(plugin_defaults))
    sections = {
        plugin_id: _plugin_section(plugin_id, defaults, raw.get(plugin_id), warnings)
        for plugin_id, defaults in plugin_defaults.items()
        if plugin_id not in _CORE_KEYS
    }
    return attrs.evolve(settings, plugin_settings=sections), warnings


_CORE_KEYS = {camel(f.name) for f in attrs.fields(Settings) if f.name != "plugin_settings"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


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
        if field.name == "plugin_settings":
            continue
        known[camel(field.name)] = field
    for key, value in raw.items():
        field = known.get(key) if isinstance(key, str) else None
        if field is None:
            if key in extra:
                continue
            hint = difflib.get_close_matches(str(key), list(known), n=1)
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
                    f"{path}: expected an object, got {_kind(value)}; using the defaults"
                )
            continue
        problem = _type_problem(value, ftype)
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


def _type_problem(value: Any, ftype: Any) -> str | None:
    """None when ``value`` fits ``ftype``, else what was expected."""
    origin = typing.get_origin(ftype)
    if origin in (typing.Union, pytypes.UnionType):
        options = typing.get_args(ftype)
        if any(_type_problem(value, option) is None for option in options):
            return None
        return "expected " + " or ".join(_describe(option) for option in options)
    if origin is Literal:
        choices = typing.get_args(ftype)
        return None if value in choices else "expected one of " + ", ".join(map(repr, choices))
    if origin is list:
        (item,) = typing.get_args(ftype)
        if not isinstance(value, list):
            return f"expected {_describe(ftype)}"
        if any(_type_problem(v, item) is not None for v in value):
            return f"expected {_describe(ftype)}"
        return None
    if ftype is type(None):
        return None if value is None else "expected null"
    if ftype is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "expected a number"
    if ftype is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "expected a whole number"
    if ftype is str:
        return None if isinstance(value, str) else "expected a string"
    if ftype is bool:
        return None if isinstance(value, bool) else "expected true or false"
    return None


def _describe(ftype: Any) -> str:
    origin = typing.get_origin(ftype)
    if origin is list:
        item = typing.get_args(ftype)[0]
        plural = {str: "strings", int: "whole numbers", float: "numbers"}
        return f"a list of {plural.get(item, _describe(item))}"
    if origin is Literal:
        return " or ".join(map(repr, typing.get_args(ftype)))
    return {
        str: "a string",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        type(None): "null",
    }.get(ftype, getattr(ftype, "__name__", str(ftype)))


def _plugin_section(
    plugin_id: str, defaults: Mapping[str, Any], raw: Any, warnings: list[str]
) -> dict[str, Any]:
    section = dict(defaults)
    if raw is None:
        return section
    where = f"butler.{plugin_id}"
    if not isinstance(raw, Mapping):
        warnings.append(f"{where}: expected an object, got {_kind(raw)}; using the defaults")
        return section
    for key, value in raw.items():
        if key not in defaults:
            warnings.append(f"{where}.{key}: unknown setting of plugin {plugin_id}, ignored")
            continue
        default = defaults[key]
        if default is not None and not _same_kind(value, default):
            warnings.append(
                f"{where}.{key}: expected {_kind(default)}, got {value!r}; "
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


def to_wire(settings: Settings) -> dict[str, Any]:
    """The settings as the camelCase ``butler`` object (for status and docs)."""

    def convert(obj: Any) -> Any:
        if attrs.has(type(obj)):
            out = {camel(f.name): convert(getattr(obj, f.name)) for f in attrs.fields(type(obj))}
            return out
        if isinstance(obj, list):
            return [convert(v) for v in obj]
        if isinstance(obj, dict):
            return {k: convert(v) for k, v in obj.items()}
        return obj

    return convert(settings)


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
