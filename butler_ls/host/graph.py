"""Plugin activation order: every plugin after the plugins it requires.

Plugins that cannot be activated are left out with a reason a user can act on, never a crash.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Collection, Mapping, Sequence

import attrs

from butler_ls.host.manifest import PluginManifest, specifier_allows

DISABLED_REASON = "disabled in settings (plugins.disabled)"


@attrs.frozen
class Resolution:
    """Which plugins to activate, in what order, and why the others are left out."""

    order: tuple[PluginManifest, ...]
    """Plugins to activate, each after the plugins it requires and, where possible, after
    the providers of the capabilities it consumes."""
    excluded: dict[str, str] = attrs.field(factory=dict, hash=False)
    """Plugin id -> why it is not activated, in words for the user; in input order."""


def resolve_order(
    manifests: Sequence[PluginManifest],
    *,
    disabled: Collection[str] = (),
    host_version: str | None = None,
) -> Resolution:
    """Order ``manifests`` for activation and explain every plugin that has to be left out."""
    plugins: dict[str, PluginManifest] = {}
    for manifest in manifests:
        # The caller reports duplicate ids; here the first one simply wins.
        plugins.setdefault(manifest.id, manifest)
    # A lone string would otherwise disable the plugins named by its single letters.
    disabled = frozenset([disabled] if isinstance(disabled, str) else disabled)

    excluded: dict[str, str] = {}
    for plugin in plugins.values():
        reason = _own_problem(plugin, plugins, disabled, host_version)
        if reason is not None:
            excluded[plugin.id] = reason
    _exclude_dependents(plugins, excluded)
    # Cycles are looked for only among plugins still in play: a plugin whose dependency is
    # disabled is better told that than about a cycle it could never have completed.
    cycles = _cycles(plugins, excluded)
    excluded.update(cycles)
    if cycles:
        _exclude_dependents(plugins, excluded)

    active = [plugin for plugin in plugins.values() if plugin.id not in excluded]
    return Resolution(
        order=tuple(_activation_order(active)),
        excluded={plugin_id: excluded[plugin_id] for plugin_id in plugins if plugin_id in excluded},
    )


def _own_problem(
    plugin: PluginManifest,
    plugins: Mapping[str, PluginManifest],
    disabled: Collection[str],
    host_version: str | None,
) -> str | None:
    """The reason ``plugin`` cannot run that does not depend on other exclusions, if any."""
    if plugin.id in disabled:
        return DISABLED_REASON
    wrong_host = host_version is not None and not specifier_allows(plugin.butler, host_version)
    if plugin.butler and wrong_host:
        return f"needs Butler {plugin.butler}, this is {host_version}"
    for requirement in plugin.requires:
        dependency = plugins.get(requirement.id)
        if dependency is None:
            return f"requires '{requirement.id}', which is not installed"
        if not requirement.allows(dependency.version):
            installed = f"{dependency.id} {dependency.version}"
            return f"requires '{requirement}', but {installed} is installed"
    return None


def _exclude_dependents(plugins: Mapping[str, PluginManifest], excluded: dict[str, str]) -> None:
    """Exclude, until nothing changes, every plugin that requires an excluded plugin."""
    changed = True
    while changed:
        changed = False
        for plugin in plugins.values():
            if plugin.id in excluded:
                continue
            for requirement in plugin.requires:
                if requirement.id in excluded:
                    why = excluded[requirement.id]
                    excluded[plugin.id] = (
                        f"requires '{requirement.id}', which is not available: {why}"
                    )
                    changed = True
                    break


def _cycles(plugins: Mapping[str, PluginManifest], excluded: Mapping[str, str]) -> dict[str, str]:
    """Plugin id -> reason for every plugin still in play that lies on a requires cycle."""
    edges = {
        plugin.id: [r.id for r in plugin.requires if r.id not in excluded]
        for plugin in plugins.values()
        if plugin.id not in excluded
    }
    reasons: dict[str, str] = {}
    for plugin_id in edges:
        path = _shortest_cycle(plugin_id, edges)
        if path is not None:
            reasons[plugin_id] = "dependency cycle: " + " -> ".join(path)
    return reasons


def _shortest_cycle(start: str, edges: Mapping[str, list[str]]) -> list[str] | None:
    """The shortest requires path from ``start`` back to itself, or None if there is none."""
    # Breadth first over a few dozen plugins: cheap, and each plugin's reason starts with
    # itself, which reads better than one cycle text shared by all its members.
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for dependency in edges.get(node, ()):
            if dependency in parents:
                continue
            parents[dependency] = node
            if dependency == start:
                path = [start]
                node = parents[start]
                while node != start:
                    path.append(node)
                    node = parents[node]
                path.append(start)
                return path[::-1]
            queue.append(dependency)
    return None


def _activation_order(active: Sequence[PluginManifest]) -> list[PluginManifest]:
    """Topological order of ``active`` (acyclic on requires); ties keep the input order."""
    index = {plugin.id: position for position, plugin in enumerate(active)}
    after: dict[str, set[str]] = {plugin.id: set() for plugin in active}  # id -> must come later
    for plugin in active:
        for requirement in plugin.requires:
            after[requirement.id].add(plugin.id)

    providers: dict[str, list[str]] = {}
    for plugin in active:
        for capability in plugin.provides:
            providers.setdefault(capability, []).append(plugin.id)
    soft = {
        (provider, plugin.id)
        for plugin in active
        for capability in plugin.consumes
        for provider in providers.get(capability, ())
        if provider != plugin.id
    }
    # Edges that agree with the input order go first, so a soft cycle is broken in favour
    # of the order the plugins were given in.
    for provider, consumer in sorted(
        soft, key=lambda edge: (index[edge[0]] > index[edge[1]], index[edge[1]], index[edge[0]])
    ):
        if not _reaches(consumer, provider, after):
            after[provider].add(consumer)

    waiting = {plugin.id: 0 for plugin in active}
    for later in after.values():
        for plugin_id in later:
            waiting[plugin_id] += 1
    ready = [index[plugin_id] for plugin_id, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[PluginManifest] = []
    while ready:
        plugin = active[heapq.heappop(ready)]
        order.append(plugin)
        for plugin_id in after[plugin.id]:
            waiting[plugin_id] -= 1
            if waiting[plugin_id] == 0:
                heapq.heappush(ready, index[plugin_id])
    return order


def _reaches(source: str, target: str, after: Mapping[str, set[str]]) -> bool:
    """Whether ``target`` must already come after ``source``."""
    seen = {source}
    stack = [source]
    while stack:
        node = stack.pop()
        if node == target:
            return True
        for later in after[node]:
            if later not in seen:
                seen.add(later)
                stack.append(later)
    return False
