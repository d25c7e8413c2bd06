"""The doctor's plugin side: find the plugins the server would load, and run the checks
each one declares (``doctor:`` in its plugin.yaml), one plugin's failure never stopping the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from butler_ls import __version__
from butler_ls.doctor.checks import Check, DoctorContext
from butler_ls.host.graph import resolve_order
from butler_ls.host.loader import discovery_folders, import_from_plugin
from butler_ls.host.manager import PluginManager
from butler_ls.host.manifest import PluginManifest
from butler_ls.util.config import Schema, Settings
from butler_ls.util.paths import Paths

logger = logging.getLogger(__name__)


def discover(
    paths: Paths, extra_folders: Iterable[str], disabled: Iterable[str] = ()
) -> PluginManager:
    """The plugins the server would find: built-in, user folder, ``plugins.paths``, entry points,
    with the settings classes of those not ``disabled`` imported (as the server does)."""
    # No server: the doctor reads manifests and imports doctor modules, it activates nothing.
    manager = PluginManager(None, lambda message: None)  # type: ignore[arg-type]
    manager.discover(discovery_folders(paths.user_plugins_dir, list(extra_folders)))
    manager.load_schemas(disabled)
    return manager


def settings_sections(manager: PluginManager) -> Schema:
    """Each plugin's settings sections, so that the config check reads them as the server does."""
    return manager.settings_schema()


def plugin_checks(
    manager: PluginManager,
    settings: Settings,
    paths: Paths,
    workspace: Path | None,
    quick: bool = False,
) -> Iterator[Check]:
    """The checks of every plugin the server would activate, in activation order."""
    resolution = resolve_order(
        manager.manifests(), disabled=set(settings.plugins.disabled), host_version=__version__
    )
    for manifest in resolution.order:
        if not manifest.doctor:
            continue
        context = DoctorContext(
            settings=settings,
            plugin_settings=_own_section(settings, manifest),
            workspace=workspace,
            paths=paths,
            quick=quick,
        )
        yield from run_plugin(manifest, manager.records[manifest.id].module_name, context)


def _own_section(settings: Settings, manifest: PluginManifest) -> Any:
    section = settings.section(manifest.id)
    return section if section is not None else dict(manifest.settings)


def run_plugin(
    manifest: PluginManifest, module_name: str | None, context: DoctorContext
) -> list[Check]:
    """One plugin's checks; a module that does not import, or a function that raises or
    answers something else than checks, is one FAIL naming the plugin."""
    module, _, attr = manifest.doctor.partition(":")
    stage = "cannot be imported"
    try:
        function = import_from_plugin(manifest, module, attr, module_name, key="doctor")
        stage = "failed"
        checks = list(function(context))
        wrong = [check for check in checks if not isinstance(check, Check)]
        if wrong:
            raise TypeError(f"it returned {type(wrong[0]).__name__}, not Check")
    except (Exception, SystemExit) as exc:
        logger.debug("doctor checks of plugin %s %s", manifest.id, stage, exc_info=True)
        return [broken_plugin(manifest, stage, exc)]
    return checks


def broken_plugin(manifest: PluginManifest, stage: str, exc: BaseException) -> Check:
    """The FAIL of a plugin whose doctor checks could not run."""
    if manifest.source == "builtin":
        fix = "report this to Butler's issue tracker with the output of butler-ls doctor"
    else:
        fix = (
            f"update or fix the plugin ({manifest.file}), or switch it off with "
            f"plugins.disabled: [{manifest.id}]"
        )
    detail = f"plugin {manifest.id}: its doctor checks ({manifest.doctor}) {stage}: "
    detail += f"{type(exc).__name__}: {exc}"
    return Check(manifest.id, "fail", detail, fix, {"plugin": manifest.id})
