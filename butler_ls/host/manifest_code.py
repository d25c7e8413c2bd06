"""Manifest keys that name code in the plugin (``module:function``): ``jobs`` (worker job
handlers), ``cli`` (``butler-ls`` tools) and ``doctor`` (checks), checked before any import.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping

import attrs

from butler_ls.host.manifest_problems import expected, invalid, label

IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TARGET_HINT = "module:function in dotted Python names, e.g. jobs:transcribe"
_DOCTOR_HINT = "module:function in dotted Python names, e.g. doctor_checks:checks"
_KIND_RE = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*")
_CLI_RE = re.compile(r"[a-z][a-z0-9-]*")


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
