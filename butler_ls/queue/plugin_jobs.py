"""The worker's job handlers from plugins: each plugin's manifest ``jobs`` key, loaded the
way the server loads plugins (same folders, same checks, dependency order), one by one.

A plugin whose job code fails to import loses its own kinds only: their jobs answer why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from butler_ls.host.loader import describe, import_from_plugin, plan_plugins
from butler_ls.host.manifest import PluginManifest

logger = logging.getLogger(__name__)

ENV_PLUGINS = "BUTLER_WORKER_PLUGINS"
"""The server's ``{paths, disabled}`` of ``plugins.*``, as JSON, for the worker it starts."""

STATUS_HOOK = "worker_status"
"""A job module's optional function whose small JSON object joins the worker's heartbeat."""


@attrs.define
class PluginJobs:
    """Job kinds the plugins provide, and why the ones that cannot run cannot."""

    handlers: dict[str, Callable[..., Any]] = attrs.field(factory=dict)
    """Kind -> handler(ctx, payload)."""
    unavailable: dict[str, str] = attrs.field(factory=dict)
    """Kind -> why its plugin's handler is not loaded, naming the plugin."""
    status_hooks: list[tuple[str, Callable[[], dict[str, Any]]]] = attrs.field(factory=list)
    """(plugin id, worker_status) of the job modules that report into the heartbeat."""
    loaded: list[str] = attrs.field(factory=list)
    """Ids of the plugins whose handlers are loaded."""

    def status(self) -> dict[str, Any]:
        """The heartbeat fields the plugins add; a failing hook is logged and skipped."""
        merged: dict[str, Any] = {}
        for plugin_id, hook in self.status_hooks:
            try:
                merged.update(hook() or {})
            except Exception:
                logger.exception("worker_status of plugin %s failed", plugin_id)
        return merged


def load_plugin_jobs(
    user_dir: Path,
    paths: Iterable[str] = (),
    disabled: Iterable[str] = (),
    *,
    reserved: Iterable[str] = (),
    entry_points: bool = True,
) -> PluginJobs:
    """Find the plugins as the server does and import the job handlers they declare.

    ``reserved`` kinds belong to the worker itself; a plugin cannot take them over.
    """
    jobs = PluginJobs()
    plan = plan_plugins(user_dir, list(paths), disabled, entry_points)
    for plugin_id, (found, reason) in plan.excluded.items():
        for job in found.manifest.jobs if found.manifest else ():
            jobs.unavailable[job.name] = f"plugin {plugin_id} is not loaded: {reason}"
    taken = set(reserved)
    for found in plan.order:
        if found.manifest is not None and found.manifest.jobs:
            _load_one(found.manifest, found.module_name, jobs, taken)
    return jobs


def _load_one(
    manifest: PluginManifest, module_name: str | None, jobs: PluginJobs, taken: set[str]
) -> None:
    """Import one plugin's handlers: all of them, or none (its kinds then say why)."""
    found: dict[str, Callable[..., Any]] = {}
    hooks: list[Callable[[], dict[str, Any]]] = []
    try:
        for job in manifest.jobs:
            handler = import_from_plugin(manifest, job.module, job.function, module_name, "jobs")
            if not callable(handler):
                raise TypeError(f"jobs: {job.module}:{job.function} is not a function")
            found[job.name] = handler
            module = import_from_plugin(manifest, job.module, None, module_name, "jobs")
            hook = getattr(module, STATUS_HOOK, None)
            if callable(hook) and hook not in hooks:
                hooks.append(hook)
    except Exception as exc:
        reason = describe(exc, "importing its job code")
        logger.error("plugin %s: %s", manifest.id, reason, exc_info=exc)
        for job in manifest.jobs:
            if job.name not in taken:
                jobs.unavailable[job.name] = f"plugin {manifest.id} cannot run it: {reason}"
        return
    for kind, handler in found.items():
        if kind in taken:
            logger.warning("plugin %s: job kind %r is already taken; ignored", manifest.id, kind)
            continue
        taken.add(kind)
        jobs.handlers[kind] = handler
        jobs.unavailable.pop(kind, None)
    jobs.status_hooks += [(manifest.id, hook) for hook in hooks]
    jobs.loaded.append(manifest.id)
    logger.info("plugin %s: job kinds %s", manifest.id, ", ".join(found))
