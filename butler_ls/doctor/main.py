"""``butler-ls doctor``: checks the settings file, folders, queue and worker, then runs
the checks of each plugin (notes, microphone, model...).

Each check says OK, WARN or FAIL and, when it is not OK, what to fix; ``--json`` gives
the same report to editors' health checks. Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from butler_ls import __version__
from butler_ls.doctor.checks import LABELS, Check, probe_folder
from butler_ls.util.config import (
    Settings,
    deep_merge,
    expand_dotted,
    load_settings_file,
    parse_settings,
)
from butler_ls.util.paths import Paths

# Plugins' checks that editors' health pages have always shown between paths and queue,
# in this order; any other plugin's checks come after the worker's.
FAMILIAR_ORDER = ("notes", "audio", "model")


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
    parser.add_argument(
        "--quick",
        action="store_true",
        help="skip slow checks (the model's self-test)",
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
    settings = getattr(args, "settings", None)
    quick = getattr(args, "quick", False)
    for check in run_checks(Paths.default(), args.workspace, settings, quick=quick):
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
    paths: Paths,
    workspace: Path | None,
    editor_settings: dict[str, Any] | None = None,
    quick: bool = False,
) -> Iterator[Check]:
    """Every check in order, each as soon as it is done; a check that crashes is a FAIL.

    The core's config and paths, then the plugins' checks in activation order, then the
    queue and worker. The report keeps the order editors know (config, paths, notes,
    audio, model, queue, worker); other plugins' checks come last.
    """
    from butler_ls.doctor.queue_checks import check_queue, check_worker

    try:
        config, settings = check_config(paths, editor_settings)
    except Exception as exc:
        config, settings = crashed("config", exc), Settings()
    yield config
    yield guard("paths", check_paths, paths)
    plugins = guarded_plugin_checks(paths, settings, workspace, quick)
    familiar = [check for check in plugins if check.name in FAMILIAR_ORDER]
    yield from sorted(familiar, key=lambda check: FAMILIAR_ORDER.index(check.name))
    try:
        queue, target = check_queue(settings.queue, paths)
    except Exception as exc:
        queue, target = crashed("queue", exc), None
    yield queue
    yield guard("worker", check_worker, target)
    yield from (check for check in plugins if check.name not in FAMILIAR_ORDER)


def guarded_plugin_checks(
    paths: Paths, settings: Settings, workspace: Path | None, quick: bool
) -> list[Check]:
    """The plugins' checks; finding the plugins at all failing is one FAIL."""
    from butler_ls.doctor.plugin_checks import discover, plugin_checks

    try:
        manager = discover(paths, settings.plugins.paths, settings.plugins.disabled)
        return list(plugin_checks(manager, settings, paths, workspace, quick))
    except Exception as exc:
        return [crashed("plugins", exc)]


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


# -- settings file, data folder ------------------------------------------------------


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
    from butler_ls.doctor.plugin_checks import discover, settings_sections

    bootstrap, _ = parse_settings(raw)
    plugins = bootstrap.plugins
    return settings_sections(discover(paths, plugins.paths, plugins.disabled))


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
