"""``butler-ls doctor``: checks the settings file, folders, microphone, model, queue and worker.

Each check says OK, WARN or FAIL and, when it is not OK, what to fix; ``--json`` gives
the same report to editors' health checks. Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from butler_ls import __version__
from butler_ls.doctor.checks import LABELS, Check, probe_folder
from butler_ls.util.config import (
    NotesSettings,
    Settings,
    deep_merge,
    expand_dotted,
    load_settings_file,
    parse_settings,
)
from butler_ls.util.paths import Paths, builtin_plugins_dir


def report_json(checks: list[Check]) -> dict[str, Any]:
    """The ``--json`` document: ``{ok, version, checks: [...]}``."""
    return {
        "ok": exit_status(checks) == 0,
        "version": __version__,
        "checks": [check.to_json() for check in checks],
    }


def exit_status(checks: list[Check]) -> int:
    """1 when any check failed, else 0 (warnings do not fail)."""
    return 1 if any(check.status == "fail" for check in checks) else 0


def summary(checks: list[Check]) -> str:
    """``5 OK, 1 WARN, 1 FAIL``."""
    counts = {status: sum(c.status == status for c in checks) for status in LABELS}
    return ", ".join(f"{counts[s]} {LABELS[s].strip()}" for s in LABELS if counts[s])


# -- the command ---------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``butler-ls doctor``."""
    parser.add_argument(
        "--json", action="store_true", help="print the report as JSON (for editors' health checks)"
    )
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        type=lambda text: Path(text).expanduser().absolute(),
        help="workspace folder that a relative notes.directory is taken from (default: home)",
    )
    parser.add_argument(
        "--settings",
        metavar="JSON",
        type=_settings_object,
        default=None,
        help="the `butler` settings object an editor sends (JSON), checked over config.yaml",
    )


def _settings_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc}); pass the settings object") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object, the `butler` settings")
    return value


def main(args: argparse.Namespace) -> int:
    """Run every check, print the report; 1 when a check failed."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded, ever
    checks = []
    for check in run_checks(Paths.default(), args.workspace, getattr(args, "settings", None)):
        checks.append(check)
        if not args.json:
            print(check.render(), flush=True)
    if args.json:
        json.dump(report_json(checks), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"\n{summary(checks)}")
    return exit_status(checks)


def run_checks(
    paths: Paths, workspace: Path | None, editor_settings: dict[str, Any] | None = None
) -> Iterator[Check]:
    """Every check in order, each as soon as it is done; a check that crashes is a FAIL."""
    from butler_ls.doctor.queue_checks import check_queue, check_worker
    from butler_ls.doctor.speech_checks import check_audio, check_model

    try:
        config, settings = check_config(paths, editor_settings)
    except Exception as exc:
        config, settings = crashed("config", exc), Settings()
    yield config
    yield guard("paths", check_paths, paths)
    yield guard("notes", check_notes, settings.notes, workspace)
    yield guard("audio", check_audio, settings.audio.device)
    yield guard("model", check_model, settings.model)
    try:
        queue, target = check_queue(settings.queue, paths)
    except Exception as exc:
        queue, target = crashed("queue", exc), None
    yield queue
    yield guard("worker", check_worker, target)


def guard(name: str, func: Callable[..., Check], *args: Any) -> Check:
    """``func(*args)``, or a FAIL naming the error when the check itself breaks."""
    try:
        return func(*args)
    except Exception as exc:
        return crashed(name, exc)


def crashed(name: str, exc: BaseException) -> Check:
    """The FAIL of a check that raised instead of answering."""
    return Check(
        name,
        "fail",
        f"the check itself failed: {type(exc).__name__}: {exc}",
        fix="report this to Butler's issue tracker with the output of butler-ls doctor",
    )


# -- settings file, data folder, notes folder ----------------------------------------


def check_config(
    paths: Paths, editor_settings: dict[str, Any] | None = None
) -> tuple[Check, Settings]:
    """Read ``config.yaml`` as the server does; each problem names its key.

    ``editor_settings`` (``--settings``) go over the file, as the editor's do in the server.
    """
    path = paths.config_file
    raw, unreadable = load_settings_file(path)
    where = str(path)
    if editor_settings:
        raw = deep_merge(raw, expand_dotted(editor_settings))
        where = f"{path} + editor settings"
    settings, warnings = parse_settings(raw, plugin_defaults(paths, raw))
    problems = unreadable + [f"{where}: {warning}" for warning in warnings]
    data = {"path": str(path), "exists": path.exists(), "problems": problems}
    if not problems:
        found = "no problems" if path.exists() else "no settings file; using the defaults"
        return Check("config", "ok", f"{path}: {found}", data=data), settings
    fix = (
        f"correct {path} or delete it; until then the server ignores the whole file"
        if unreadable
        else f"edit {where}: correct or remove the keys named (docs/configuration.md lists "
        f"every key); meanwhile they fall back to their defaults"
    )
    if len(problems) == 1:
        return Check("config", "warn", problems[0], fix, data), settings
    lines = [problem.removeprefix(f"{where}: ") for problem in problems]
    return Check(
        "config", "warn", f"{len(problems)} problems in {path}", fix, data, lines
    ), settings


def plugin_defaults(paths: Paths, raw: dict[str, Any]) -> dict[str, Any]:
    """Settings sections of the plugins the server would find (so theirs are not 'unknown')."""
    from butler_ls.host.manager import PluginManager

    bootstrap, _ = parse_settings(raw)
    folders = [("builtin", builtin_plugins_dir()), ("user", paths.user_plugins_dir)]
    folders += [("path", Path(p).expanduser()) for p in bootstrap.plugins.paths]
    manager = PluginManager(None, lambda message: None)  # type: ignore[arg-type]
    manager.discover(folders)
    # As the server's apply_settings: duplicates and disabled plugins keep their section.
    defaults = {manifest.id: manifest.settings for manifest in manager.manifests()}
    defaults.update(
        {
            record.id: record.manifest.settings
            for record in manager.records.values()
            if record.manifest is not None and record.manifest.settings
        }
    )
    return defaults


def check_paths(paths: Paths) -> Check:
    """The data folder (logs, queue, audio spool) must take new files."""
    data = {"config": str(paths.config_file), "data": str(paths.data_dir)}
    data["log"] = str(paths.log_dir)
    exists, problem = probe_folder(paths.data_dir)
    if problem:
        return Check(
            "paths",
            "fail",
            f"data folder {paths.data_dir}: {problem}",
            f"make {paths.data_dir} a folder you own and can write (Butler keeps its logs, "
            f"queue and audio spool there), or point XDG_DATA_HOME elsewhere",
            data,
        )
    state = "writable" if exists else "not created yet (the server creates it)"
    return Check("paths", "ok", f"data folder {paths.data_dir}: {state}", data=data)


def notes_directory(notes: NotesSettings, workspace: Path | None) -> Path:
    """``notes.directory`` as daily_writer resolves it for this workspace (or home)."""
    base = workspace or Path.home()
    if notes.directory:
        path = Path(notes.directory).expanduser()
        return path if path.is_absolute() else base / path
    return base / "notes" / "daily"


def check_notes(notes: NotesSettings, workspace: Path | None) -> Check:
    """The notes folder takes new notes; the template and file name pattern are usable."""
    folder = notes_directory(notes, workspace)
    exists, problem = probe_folder(folder)
    data = {"directory": str(folder), "exists": exists}
    if problem:
        return Check(
            "notes",
            "fail",
            f"notes folder {folder}: {problem}",
            f"make {folder} a folder you can write, or set notes.directory to one",
            data,
        )
    state = "writable" if exists else "does not exist yet; the first note creates it"
    detail = f"notes folder {folder}: {state}"
    base = workspace or Path.home()
    if notes.template:
        template = Path(notes.template).expanduser()
        template = template if template.is_absolute() else base / template
        try:
            template.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fix = "fix the path of notes.template, or remove it to use the built-in template"
            detail = f"notes.template: cannot read {template} ({exc})"
            return Check("notes", "warn", detail, fix, data)
    today = dt.date.today()
    try:
        name = today.strftime(notes.filename_format)
        outside = not (folder / name).resolve().is_relative_to(folder.resolve())
    except ValueError as exc:
        name, outside = f"an error ({exc})", True
    if outside or (folder / name).resolve() == folder.resolve():
        fix = "use a relative pattern such as %Y-%m-%d.md (subfolders are fine: %Y/%m-%d.md)"
        detail = f"notes.filenameFormat {notes.filename_format!r} gives {name}, outside {folder}"
        return Check("notes", "warn", detail, fix, data)
    return Check("notes", "ok", detail, data=data)
