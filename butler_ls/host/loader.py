"""Finding plugins and importing their code: shared by the server's plugin manager, the
worker (job handlers) and the command line (plugin tools), so all three see the same plugins.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import types as pytypes
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from butler_ls import __version__
from butler_ls.host.graph import resolve_order
from butler_ls.host.manifest import MANIFEST_NAME, PluginManifest, load_manifest
from butler_ls.util.errors import ButlerError, ManifestError

if TYPE_CHECKING:
    from importlib import metadata

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "butler.plugins"
PACKAGE_PREFIX = "butler_plugins"


@attrs.frozen
class Found:
    """One plugin found during discovery: its manifest, or why it cannot be used."""

    id: str
    """The manifest's id; the folder or entry-point name when there is no manifest."""
    source: str
    """builtin, user, path or entry-point."""
    location: str
    """Its manifest file (or entry point), for messages."""
    manifest: PluginManifest | None = None
    """The validated manifest; None when ``problem`` says why not."""
    module_name: str | None = None
    """Import name of an entry-point plugin's package; None for folder plugins."""
    problem: str | None = None
    """Why the plugin cannot be used (a broken manifest, a missing package)."""


def discovery_folders(user_dir: Path, extra: Sequence[str] = ()) -> list[tuple[str, Path]]:
    """The ``(source, folder)`` pairs searched, in order: built-in, user, ``plugins.paths``."""
    from butler_ls.util.paths import builtin_plugins_dir

    folders = [("builtin", builtin_plugins_dir()), ("user", user_dir)]
    return folders + [("path", Path(p).expanduser()) for p in extra]


def find_plugins(folders: Iterable[tuple[str, Path]], entry_points: bool = True) -> list[Found]:
    """Every plugin in ``(source, folder)`` pairs, then the entry points, in that order.

    Duplicates are kept (in order): the caller decides that the first one wins.
    """
    found = [
        _from_manifest(source, f, None)
        for source, folder in folders
        for f in manifest_files(folder)
    ]
    if entry_points:
        found += [_from_entry_point(ep) for ep in plugin_entry_points()]
    return found


@attrs.frozen
class Plan:
    """The plugins a process outside the server (worker, command line) may load."""

    order: list[Found]
    """Usable plugins, each after the plugins it requires (as the server activates them)."""
    excluded: dict[str, tuple[Found, str]]
    """Plugin id -> (the plugin, why it is left out: disabled, a missing requirement...)."""


def plan_plugins(
    user_dir: Path,
    paths: Sequence[str] = (),
    disabled: Iterable[str] = (),
    entry_points: bool = True,
    quiet: bool = False,
) -> Plan:
    """Find plugins as the server does, and order them as it does; the first of an id wins.

    Broken and duplicate plugins are logged as warnings unless ``quiet``.
    """
    first: dict[str, Found] = {}
    warn = logger.debug if quiet else logger.warning
    for found in find_plugins(discovery_folders(user_dir, paths), entry_points):
        if found.manifest is None:
            warn("plugin %s at %s skipped: %s", found.id, found.location, found.problem)
        elif found.id in first:
            warn("plugin %s at %s ignored: already found", found.id, found.location)
        else:
            first[found.id] = found
    manifests = [found.manifest for found in first.values() if found.manifest is not None]
    resolution = resolve_order(manifests, disabled=set(disabled), host_version=__version__)
    return Plan(
        [first[manifest.id] for manifest in resolution.order],
        {plugin_id: (first[plugin_id], why) for plugin_id, why in resolution.excluded.items()},
    )


def _from_manifest(source: str, manifest_file: Path, module_name: str | None) -> Found:
    try:
        manifest = load_manifest(manifest_file, source=source)
    except ManifestError as exc:
        name = manifest_file.parent.name
        return Found(name, source, str(manifest_file), problem=f"invalid manifest: {exc}")
    return Found(manifest.id, source, str(manifest_file), manifest, module_name)


def _from_entry_point(ep: metadata.EntryPoint) -> Found:
    location = f"entry point {ep.name} = {ep.value}"
    try:
        spec = importlib.util.find_spec(ep.module)
        folders = list(spec.submodule_search_locations or []) if spec else []
    except (ImportError, ValueError) as exc:
        return Found(ep.name, "entry-point", location, problem=f"cannot find {ep.module}: {exc}")
    if not folders:
        why = f"{ep.module} must be a package whose folder holds {MANIFEST_NAME}"
        return Found(ep.name, "entry-point", location, problem=why)
    return _from_manifest("entry-point", Path(folders[0]) / MANIFEST_NAME, ep.module)


def manifest_files(folder: Path) -> Iterator[Path]:
    """``folder/plugin.yaml`` if the folder is a plugin, else its sub-folders' manifests."""
    if (folder / MANIFEST_NAME).is_file():
        yield folder / MANIFEST_NAME
        return
    try:
        children = sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return
    for child in children:
        if (child / MANIFEST_NAME).is_file() and not child.name.startswith((".", "_")):
            yield child / MANIFEST_NAME


def plugin_entry_points() -> list[metadata.EntryPoint]:
    """The ``butler.plugins`` entry points of installed distributions."""
    if not _may_declare_plugins():
        return []
    from importlib import metadata

    try:
        return list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:  # a broken distribution must not stop the server
        logger.exception("cannot read the %s entry points", ENTRY_POINT_GROUP)
        return []


def import_entry(manifest: PluginManifest, module_name: str | None) -> Any:
    """Import the plugin's entry module (by path for folder plugins) and its attribute."""
    return import_from_plugin(manifest, manifest.entry_module, manifest.entry_attr, module_name)


def import_from_plugin(
    manifest: PluginManifest,
    module: str,
    attr: str | None,
    module_name: str | None = None,
    key: str = "entry",
) -> Any:
    """Import ``module`` of a plugin (by path for folder plugins) and its ``attr``.

    ``module_name`` is an entry-point plugin's own package; ``key`` names the manifest
    key in the error when ``attr`` is missing.
    """
    package = module_name or folder_package(manifest)
    loaded = importlib.import_module(f"{package}.{module}")
    if attr is None:
        return loaded
    try:
        return getattr(loaded, attr)
    except AttributeError:
        raise ButlerError(
            f"{manifest.file}: {key}: module {module} has no attribute {attr}"
        ) from None


def folder_package(manifest: PluginManifest) -> str:
    """Make the plugin folder importable as ``butler_plugins.<id>`` without sys.path."""
    if PACKAGE_PREFIX not in sys.modules:
        root = pytypes.ModuleType(PACKAGE_PREFIX, "Namespace of folder plugins.")
        root.__path__ = []
        sys.modules[PACKAGE_PREFIX] = root
    name = f"{PACKAGE_PREFIX}.{manifest.id.replace('.', '_').replace('-', '_')}"
    if name in sys.modules:
        return name
    folder = manifest.folder
    assert folder is not None
    init = folder / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(folder)]
        )
    else:
        spec = importlib.util.spec_from_loader(name, loader=None, is_package=True)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__path__ = [str(folder)]
    sys.modules[name] = module
    try:
        if spec.loader is not None:
            spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return name


def describe(exc: BaseException, where: str) -> str:
    """``where`` and what went wrong, in one line for the log and the user."""
    if isinstance(exc, ButlerError):
        return f"{where}: {exc}"
    return f"{where} raised {type(exc).__name__}: {exc}"


def _may_declare_plugins() -> bool:
    """Whether a distribution on ``sys.path`` may declare ``butler.plugins`` entry points.

    A quick look at their ``entry_points.txt`` files, so that importlib.metadata (about
    80 ms to import, a fifth of Butler's start-up) loads only when one does; anything but
    a plain folder on the path (a zip) is left to importlib.metadata.
    """
    section = f"[{ENTRY_POINT_GROUP}]"
    for entry in sys.path:
        try:
            children = list(os.scandir(entry or "."))
        except NotADirectoryError:
            return True
        except OSError:
            continue
        for child in children:
            if not child.name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                text = Path(child.path, "entry_points.txt").read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if section in text:
                return True
    return False
