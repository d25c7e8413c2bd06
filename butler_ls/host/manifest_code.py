"""Manifest keys that name code in the plugin (``module:function``): ``jobs`` (worker job
handlers), ``cli`` (``butler-ls`` tools), ``doctor`` (checks) and ``schema`` (settings
classes), checked before any import; and ``settings``, the defaults of an untyped section.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping

import attrs

from butler_ls.host.manifest_problems import expected, invalid, label
from butler_ls.util.config import CORE_SECTIONS

IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TARGET_HINT = "module:function in dotted Python names, e.g. jobs:transcribe"
_DOCTOR_HINT = "module:function in dotted Python names, e.g. doctor_checks:checks"
_KIND_RE = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*")
_CLI_RE = re.compile(r"[a-z][a-z0-9-]*")
_SECTION_RE = re.compile(r"[a-z][A-Za-z0-9_-]*")
# Settings defaults are small JSON-like values; the limits stop YAML aliases that refer to
# themselves, or that multiply into billions of nodes, from hanging the check.
_MAX_SETTINGS_DEPTH = 32
_MAX_SETTINGS_NODES = 10_000
_SCHEMA_HINT = "module:Class in dotted Python names, e.g. settings:MySettings"


@attrs.frozen
class Target:
    """Code a plugin names in its manifest: a function in one of its modules."""

    name: str
    """The job kind (``jobs``) or the command-line tool (``cli``) it serves."""
    module: str
    """Dotted module, relative to the plugin folder."""
    function: str
    """The function in that module."""


def check_jobs(value: object, problems: list) -> tuple[Target, ...]:
    """``jobs``: a list of ``{kind, handler}``; each problem is appended to ``problems``."""
    forms = "a list of {kind, handler} mappings, e.g. [{kind: transcribe, handler: jobs:run}]"
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        problems.append(expected("jobs", value, forms))
        return ()
    jobs: list[Target] = []
    for index, item in enumerate(value):
        where = f"jobs[{index}]"
        if not isinstance(item, Mapping):
            problems.append(expected(where, item, "a mapping {kind, handler}"))
            continue
        for key in item:
            if key not in ("kind", "handler"):
                problems.append((label(key, where), "unknown key; jobs take kind and handler"))
        kind = item.get("kind")
        if not isinstance(kind, str) or not _KIND_RE.fullmatch(kind):
            hint = "a name such as transcribe"
            problems.append(invalid(f"{where}.kind", kind, "job kind", hint))
        elif any(job.name == kind for job in jobs):
            problems.append((f"{where}.kind", f"{kind!r} is listed twice; kinds are unique"))
        else:
            found = target(item.get("handler"), f"{where}.handler", kind, problems)
            if found is not None:
                jobs.append(found)
    return tuple(jobs)


def check_cli(value: object, problems: list) -> tuple[Target, ...]:
    """``cli``: a mapping of tool name to ``module:function``."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        forms = "a mapping of tool name to module:function, e.g. {transcribe: cli:main}"
        problems.append(expected("cli", value, forms))
        return ()
    tools: list[Target] = []
    for name, target_text in value.items():
        where = label(name, "cli")
        if not isinstance(name, str) or not _CLI_RE.fullmatch(name):
            hint = "lowercase letters, digits and -, e.g. transcribe"
            problems.append(invalid(where, name, "command-line tool name", hint))
        elif (found := target(target_text, where, name, problems)) is not None:
            tools.append(found)
    return tuple(tools)


def target(value: object, where: str, name: str, problems: list) -> Target | None:
    """``value`` as a ``module:function`` Target serving ``name``, or None (a problem noted)."""
    module, colon, attr = value.strip().partition(":") if isinstance(value, str) else ("", "", "")
    names = [*module.split("."), attr]
    if not (colon and all(IDENTIFIER_RE.fullmatch(n) and not keyword.iskeyword(n) for n in names)):
        problems.append(invalid(where, value, "module:function", _TARGET_HINT))
        return None
    return Target(name, module, attr)


def check_doctor(value: object, problems: list) -> str:
    """``doctor``: one ``module:function``, or "" when absent."""
    if value is None:
        return ""
    module, colon, attr = value.strip().partition(":") if isinstance(value, str) else ("", "", "")
    names = [*module.split("."), attr]
    if not (colon and all(IDENTIFIER_RE.fullmatch(n) and not keyword.iskeyword(n) for n in names)):
        problems.append(invalid("doctor", value, "doctor entry", _DOCTOR_HINT))
        return ""
    return f"{module}:{attr}"


def check_schema(value: object, plugin_id: str, problems: list) -> tuple[Target, ...]:
    """``schema``: settings section name -> ``module:Class`` (an attrs class of settings)."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        forms = f"a mapping of section name to module:Class, e.g. {{{plugin_id}: settings:Mine}}"
        problems.append(expected("schema", value, forms))
        return ()
    sections: list[Target] = []
    for name, target_text in value.items():
        where = label(name, "schema")
        if not isinstance(name, str) or not (_SECTION_RE.fullmatch(name) or name == plugin_id):
            hint = f"the plugin id ({plugin_id}) or a lowercase name such as notes"
            problems.append(invalid(where, name, "settings section", hint))
        elif name in CORE_SECTIONS:
            problems.append((where, f"{name!r} is a section of Butler itself; use {plugin_id!r}"))
        else:
            module, colon, attr = (
                target_text.strip().partition(":") if isinstance(target_text, str) else ("", "", "")
            )
            names = [*module.split("."), attr]
            if colon and all(
                IDENTIFIER_RE.fullmatch(n) and not keyword.iskeyword(n) for n in names
            ):
                sections.append(Target(name, module, attr))
            else:
                problems.append(invalid(where, target_text, "settings class", _SCHEMA_HINT))
    return tuple(sections)


def check_settings(value: object, problems: list) -> dict:
    """``settings``: defaults of the plugin's untyped section, small JSON-like values."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(expected("settings", value, "a mapping of setting names to defaults"))
        return {}
    before = len(problems)
    check_json_like(value, "settings", 0, [_MAX_SETTINGS_NODES], problems)
    return dict(value) if len(problems) == before else {}


def check_json_like(value: object, where: str, depth: int, budget: list, problems: list) -> None:
    if budget[0] <= 0:
        return  # the one "too large" problem is already reported
    budget[0] -= 1
    if depth > _MAX_SETTINGS_DEPTH or budget[0] == 0:
        problems.append((where, "nested too deeply or too large; keep default settings small"))
        budget[0] = 0
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                check_json_like(item, label(key, where), depth + 1, budget, problems)
            else:
                problems.append(expected(where, key, "string keys (quote the key)"))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_json_like(item, f"{where}[{index}]", depth + 1, budget, problems)
    elif not (value is None or isinstance(value, bool | int | float | str)):
        problems.append(expected(where, value, "a JSON-like value (quote it to make it text)"))


def _python_name(text: str) -> bool:
    return bool(IDENTIFIER_RE.fullmatch(text)) and not keyword.iskeyword(text)
