"""Finds, orders, activates and isolates plugins.

Sources: the built-in folder, the user plugin folder, ``plugins.paths`` and the
``butler.plugins`` entry points. A plugin that fails to import or activate is marked
failed and skipped; an error in one of its commands only answers that request.
"""

from __future__ import annotations

import inspect
import logging
import types as pytypes
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from butler_ls import __version__
from butler_ls.host import events
from butler_ls.host.context import PluginContext
from butler_ls.host.graph import resolve_order
from butler_ls.host.loader import describe, find_plugins, import_entry, import_from_plugin
from butler_ls.host.manifest import PluginManifest
from butler_ls.util.config import Schema, Section
from butler_ls.util.errors import ButlerError

if TYPE_CHECKING:
    from butler_ls.host.hosting import HostServer

logger = logging.getLogger(__name__)

State = Literal["active", "failed", "disabled", "inactive"]


@attrs.define
class PluginRecord:
    """What the manager knows of one plugin."""

    id: str
    """Plugin id (the folder name when the manifest could not be read)."""

    source: str
    """Where it was found: builtin, user, path or entry-point."""

    location: str
    """Its manifest file, for messages."""

    manifest: PluginManifest | None = None
    """The validated manifest; None when it was broken."""

    state: State = "inactive"
    """active, failed, disabled, or inactive (found, not yet activated)."""

    reason: str | None = None
    """Why it is failed or disabled."""

    module_name: str | None = None
    """Import name of the plugin's package (entry-point plugins keep their own)."""

    instance: Any = None
    """The activated plugin object (or module)."""

    context: PluginContext | None = None
    """The context given to ``activate``."""

    sections: dict[str, type] = attrs.field(factory=dict)
    """The settings classes of its ``schema:``, by section name, once imported."""

    @property
    def version(self) -> str | None:
        """The manifest's version, if known."""
        return self.manifest.version if self.manifest else None

    def to_wire(self) -> dict[str, Any]:
        """The ``{id, version, state, reason?}`` object of docs/commands.md (plus source)."""
        out: dict[str, Any] = {"id": self.id, "version": self.version, "state": self.wire_state}
        if self.manifest is not None:
            out["name"] = self.manifest.name
        out["source"] = self.source
        if self.reason:
            out["reason"] = self.reason
        return out

    @property
    def wire_state(self) -> str:
        """docs/commands.md knows active, failed and disabled; inactive reads as disabled."""
        return "disabled" if self.state == "inactive" else self.state


class PluginManager:
    """Discovers plugins and drives their lifecycle for one server."""

    def __init__(self, server: HostServer, report: Callable[[str], None]) -> None:
        self.server = server
        self._report = report
        self.records: dict[str, PluginRecord] = {}
        self._active_order: list[str] = []

    # -- discovery ---------------------------------------------------------------

    def discover(self, folders: Iterable[tuple[str, Path]], entry_points: bool = True) -> None:
        """Read every manifest from ``(source, folder)`` pairs and the entry points."""
        for found in find_plugins(folders, entry_points):
            if found.manifest is None:
                self._fail_found(found.id, found.source, found.location, found.problem or "")
            else:
                self._add(found.source, found.manifest, found.module_name)

    def _add(self, source: str, manifest: PluginManifest, module_name: str | None) -> None:
        manifest_file = manifest.file
        if (first := self.records.get(manifest.id)) is not None:
            logger.warning(
                "plugin %s at %s ignored: already found at %s",
                manifest.id,
                manifest_file,
                first.location,
            )
            key = f"{manifest.id}@{manifest_file}"
            self.records[key] = PluginRecord(
                manifest.id,
                source,
                str(manifest_file),
                manifest,
                "disabled",
                f"duplicate id: {first.location} already provides {manifest.id}",
            )
            return
        self.records[manifest.id] = PluginRecord(
            manifest.id, source, str(manifest_file), manifest, module_name=module_name
        )

    def _fail_found(self, plugin_id: str, source: str, location: str, reason: str) -> None:
        key = plugin_id if plugin_id not in self.records else f"{plugin_id}@{location}"
        record = PluginRecord(plugin_id, source, location, state="failed", reason=reason)
        self.records[key] = record
        self._report_failure(record)

    def manifests(self) -> list[PluginManifest]:
        """Manifests of the plugins that may be activated (valid, not duplicates)."""
        return [
            r.manifest
            for key, r in self.records.items()
            if r.manifest is not None and key == r.id and r.state == "inactive"
        ]

    # -- settings ----------------------------------------------------------------

    def load_schemas(self, disabled: Iterable[str] = ()) -> None:
        """Import the settings classes (``schema:``) of the plugins that may start.

        Runs once, before the settings are read. A class that cannot be imported, is not
        an attrs class, or claims a section another plugin owns marks its plugin failed.
        """
        disabled = set(disabled)
        plugin_ids = {record.id for record in self.records.values()}
        owners = {name: r.id for r in self.records.values() for name in r.sections}
        for key, record in list(self.records.items()):
            manifest = record.manifest
            if manifest is None or key != record.id or record.state != "inactive":
                continue
            if record.id in disabled or not manifest.schema or record.sections:
                continue
            try:
                loaded = {
                    target.name: self._schema_class(record, target, owners, plugin_ids)
                    for target in manifest.schema
                }
            except Exception as exc:
                self._mark_failed(record, describe(exc, "settings schema"), exc)
                continue
            owners.update(dict.fromkeys(loaded, record.id))
            record.sections = loaded

    @staticmethod
    def _schema_class(
        record: PluginRecord, target: Any, owners: dict[str, str], plugin_ids: set[str]
    ) -> type:
        manifest = record.manifest
        assert manifest is not None
        name = target.name
        if name in owners or (name != record.id and name in plugin_ids):
            owner = owners.get(name, name)
            raise ButlerError(f"section {name!r} belongs to plugin {owner}; choose another name")
        cls = import_from_plugin(
            manifest, target.module, target.function, record.module_name, key="schema"
        )
        if not (inspect.isclass(cls) and attrs.has(cls)):
            where = f"{target.module}:{target.function}"
            raise ButlerError(f"{where} is not an attrs class (decorate it with @attrs.frozen)")
        return cls

    def settings_schema(self) -> Schema:
        """Every plugin-owned section: a class or defaults where its plugin may start, else
        None (the section is known, so a disabled plugin's settings are not 'unknown')."""
        schema: dict[str, Section] = {}
        for record in self.records.values():
            if record.manifest is not None:
                schema.update(dict.fromkeys((t.name for t in record.manifest.schema), None))
                if record.manifest.settings:
                    schema.setdefault(record.id, None)
        for key, record in self.records.items():
            manifest = record.manifest
            if manifest is None or key != record.id or record.state == "failed":
                continue
            schema.update(record.sections)
            if manifest.settings and not record.sections.get(record.id):
                schema[record.id] = manifest.settings
        return schema

    # -- lifecycle ---------------------------------------------------------------

    async def activate_all(self, disabled: Iterable[str]) -> None:
        """Order the plugins by their dependencies and activate them one by one."""
        disabled = set(disabled)
        self.load_schemas(disabled)  # a no-op where the server already loaded them
        resolution = resolve_order(
            self.manifests(), disabled=set(disabled), host_version=__version__
        )
        for plugin_id, reason in resolution.excluded.items():
            record = self.records[plugin_id]
            user_disabled = reason.startswith("disabled in settings")
            record.state, record.reason = ("disabled" if user_disabled else "failed"), reason
            if not user_disabled:
                self._report_failure(record)
        for manifest in resolution.order:
            await self._activate(self.records[manifest.id])

    async def _activate(self, record: PluginRecord) -> None:
        manifest = record.manifest
        assert manifest is not None
        missing = [
            r.id
            for r in manifest.requires
            if self.records.get(r.id) is None or self.records[r.id].state != "active"
        ]
        if missing:
            self._mark_failed(record, f"requires {', '.join(missing)}, which failed to start")
            return
        context = PluginContext(manifest, self.server, record.sections)
        record.context = context
        stage = "import"
        try:
            instance = _instantiate(import_entry(manifest, record.module_name))
            stage = "activate"
            result = _call(instance, "activate", context)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            logger.debug("plugin %s failed in %s", manifest.id, stage, exc_info=True)
            self._cleanup(record)
            self._mark_failed(record, describe(exc, stage), exc)
            return
        record.instance = instance
        record.state, record.reason = "active", None
        self._active_order.append(record.id)
        logger.info("plugin %s %s activated", manifest.id, manifest.version)
        events.emit(events.plugin_activated, self, plugin_id=record.id)

    async def deactivate_all(self) -> None:
        """Deactivate the active plugins in reverse activation order."""
        for plugin_id in reversed(self._active_order):
            record = self.records[plugin_id]
            if record.state == "active":
                await self._deactivate(record)
                record.state = "inactive"
                record.reason = "stopped"
        self._active_order.clear()

    async def _deactivate(self, record: PluginRecord) -> None:
        try:
            result = _call(record.instance, "deactivate", record.context)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("plugin %s failed to deactivate", record.id)
        finally:
            self._cleanup(record)
            events.emit(events.plugin_deactivated, self, plugin_id=record.id)

    def _cleanup(self, record: PluginRecord) -> None:
        self.server.commands.remove_owner(record.id)
        self.server.registry.unregister_provider(record.id)
        if record.context is not None:
            record.context.close()

    def _mark_failed(
        self, record: PluginRecord, reason: str, exc: BaseException | None = None
    ) -> None:
        record.state, record.reason = "failed", reason
        record.instance = None
        if record.id in self._active_order:
            self._active_order.remove(record.id)
        self._report_failure(record, exc)

    def _report_failure(self, record: PluginRecord, exc: BaseException | None = None) -> None:
        # The traceback goes to the log file; the editor gets the one-line reason.
        if exc is not None:
            logger.info("plugin %s traceback", record.id, exc_info=exc)
        logger.warning("plugin %s failed: %s", record.id, record.reason)
        events.emit(events.plugin_failed, self, plugin_id=record.id, reason=record.reason)
        self._report(f"Butler plugin '{record.id}' failed and is switched off: {record.reason}")

    def unavailable_reason(self, command_id: str) -> str | None:
        """Why a command some plugin declares is not available now, if one does."""
        for record in self.records.values():
            manifest = record.manifest
            if manifest and any(spec.id == command_id for spec in manifest.commands):
                if record.state == "active":
                    return f"plugin {record.id} declares it but registered no handler for it"
                return f"plugin {record.id} is {record.wire_state}" + (
                    f": {record.reason}" if record.reason else ""
                )
        return None

    def declared_commands(self) -> list[str]:
        """Command ids that active plugins declare in their manifests."""
        return [
            spec.id
            for record in self.records.values()
            if record.state == "active" and record.manifest
            for spec in record.manifest.commands
        ]

    def listing(self) -> list[dict[str, Any]]:
        """Every plugin found, as the plugin objects of docs/commands.md."""
        return [record.to_wire() for record in self.records.values()]


def _instantiate(entry: Any) -> Any:
    """A class is instantiated; a module or object is used as it is."""
    return entry() if inspect.isclass(entry) else entry


def _call(instance: Any, method: str, context: PluginContext | None) -> Any:
    func = getattr(instance, method, None)
    if func is None:
        if method == "activate":
            raise ButlerError(f"the plugin entry has no {method}() function or method")
        return None
    if isinstance(instance, pytypes.ModuleType):
        # Module plugins: activate(ctx) and deactivate(ctx) functions.
        return func(context)
    return func(context) if method == "activate" else func()
