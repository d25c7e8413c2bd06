"""What a doctor check answers (``Check``), what a plugin's checks are given
(``DoctorContext``), and the folder probe several checks share.

Plugins' own checks return ``Check`` objects too; ``butler_ls.doctor.main`` runs them all.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import attrs

from butler_ls.util.config import Settings
from butler_ls.util.paths import Paths

Status = Literal["ok", "warn", "fail"]
LABELS = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL"}
INDENT = " " * 5


@attrs.define
class Check:
    """The outcome of one check, as printed and as JSON."""

    name: str
    """Stable id: config, paths, queue, worker (the core's), notes, audio, model (the
    built-in plugins'), or another plugin's own."""

    status: Status
    detail: str
    """One line: what was found."""

    fix: str | None = None
    """What to do about it (WARN and FAIL only)."""

    data: dict[str, Any] = attrs.field(factory=dict)
    """Extra JSON fields of this check (devices, timings...); camelCase keys."""

    lines: list[str] = attrs.field(factory=list)
    """Extra lines of the text report, printed indented under the check."""

    def to_json(self) -> dict[str, Any]:
        """``{name, status, detail, fix?, ...data}``."""
        out: dict[str, Any] = {"name": self.name, "status": self.status, "detail": self.detail}
        if self.fix and self.status != "ok":
            out["fix"] = self.fix
        out.update({k: v for k, v in self.data.items() if k not in out})
        return out

    def render(self) -> str:
        """``OK   name: detail``, the extra lines, and ``fix: ...`` for WARN and FAIL."""
        text = [f"{LABELS[self.status]} {self.name}: {self.detail}"]
        text += [INDENT + line for line in self.lines]
        if self.fix and self.status != "ok":
            text.append(f"{INDENT}fix: {self.fix}")
        return "\n".join(text)


@attrs.frozen
class DoctorContext:
    """What a plugin's doctor checks are given (the ``doctor:`` function of plugin.yaml)."""

    settings: Settings
    """The parsed ``butler`` settings, as the server would use them."""

    plugin_settings: Any
    """This plugin's own section, as ``PluginContext.plugin_settings`` gives it: an instance of
    its settings class, or its manifest defaults with the user's values (a dict)."""

    workspace: Path | None
    """The workspace folder (``--workspace``), or None: relative paths then start at home."""

    paths: Paths
    """Butler's folders (config, data, logs, queue)."""

    quick: bool = False
    """``--quick``: skip slow checks (loading a model, timing a job)."""


def probe_folder(folder: Path) -> tuple[bool, str | None]:
    """(exists, problem): can files be created in ``folder``, or where it would be created?

    Tried for real, with a temporary file removed at once: permission bits lie for
    root, read-only mounts and ACLs.
    """
    target = folder
    while not os.path.lexists(target) and target.parent != target:
        target = target.parent
    if not target.exists():
        return False, f"{target} is a broken link"
    if not target.is_dir():
        return False, f"{target} is a file, not a folder"
    try:
        handle, name = tempfile.mkstemp(prefix=".butler-doctor-", dir=target)
        os.close(handle)
        os.unlink(name)
    except OSError as exc:
        where = "" if target == folder else f" (in {target}, where it would be created)"
        return target == folder, f"cannot create files{where}: {exc.strerror or exc}"
    return target == folder, None
