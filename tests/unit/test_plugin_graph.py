"""Tests for plugin activation order and the reasons plugins are left out.

Plugins are built from manifest data, exactly as plugin.yaml files would give them.
"""

from __future__ import annotations

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from butler_ls.host.graph import DISABLED_REASON, Resolution, resolve_order
from butler_ls.host.manifest import PluginManifest, Requirement, parse_manifest


def plugin(
    plugin_id: str,
    version: str = "1.0.0",
    *,
    requires: tuple[str, ...] = (),
    provides: tuple[str, ...] = (),
    consumes: tuple[str, ...] = (),
    butler: str | None = None,
) -> PluginManifest:
    data = {
        "id": plugin_id,
        "name": plugin_id.title(),
        "version": version,
        "entry": "plugin",
        "requires": list(requires),
        "provides": list(provides),
        "consumes": list(consumes),
        "butler": butler,
    }
    return parse_manifest(data, file=f"{plugin_id}/plugin.yaml")


def ids(resolution: Resolution) -> list[str]:
    return [manifest.id for manifest in resolution.order]


def test_a_linear_chain_activates_dependencies_first() -> None:
    resolution = resolve_order(
        [
            plugin("notes", requires=("writer",)),
            plugin("writer", requires=("core",)),
            plugin("core"),
        ]
    )
    assert ids(resolution) == ["core", "writer", "notes"]
    assert resolution.excluded == {}


def test_a_diamond_keeps_the_input_order_between_siblings() -> None:
    top = plugin("top", requires=("left", "right"))
    left = plugin("left", requires=("base",))
    right = plugin("right", requires=("base",))
    base = plugin("base")
    assert ids(resolve_order([top, right, left, base])) == ["base", "right", "left", "top"]
    assert ids(resolve_order([top, left, right, base])) == ["base", "left", "right", "top"]


def test_independent_plugins_keep_the_input_order() -> None:
    names = ["zeta", "alpha", "mid", "beta"]
    assert ids(resolve_order([plugin(name) for name in names])) == names


def test_a_consumer_comes_after_the_provider_of_what_it_consumes() -> None:
    writer = plugin("daily_writer", consumes=("voice.capture",))
    voice = plugin("voice_input", provides=("voice.capture",))
    resolution = resolve_order([writer, voice])
    assert ids(resolution) == ["voice_input", "daily_writer"]


def test_a_consumed_capability_nobody_provides_excludes_nothing() -> None:
    resolution = resolve_order([plugin("daily_writer", consumes=("voice.capture",))])
    assert ids(resolution) == ["daily_writer"]
    assert resolution.excluded == {}


def test_a_soft_cycle_is_broken_in_favour_of_the_input_order() -> None:
    first = plugin("first", provides=("cap.one",), consumes=("cap.two",))
    second = plugin("second", provides=("cap.two",), consumes=("cap.one",))
    assert ids(resolve_order([first, second])) == ["first", "second"]
    assert ids(resolve_order([second, first])) == ["second", "first"]
    assert resolve_order([first, second]).excluded == {}


def test_a_soft_edge_against_a_requirement_is_dropped() -> None:
    needs = plugin("needs", requires=("base",), provides=("cap.x",))
    base = plugin("base", consumes=("cap.x",))
    resolution = resolve_order([needs, base])
    assert ids(resolution) == ["base", "needs"]
    assert resolution.excluded == {}


def test_a_two_plugin_cycle_and_its_dependents_are_excluded_with_reasons() -> None:
    resolution = resolve_order(
        [
            plugin("a", requires=("b",)),
            plugin("b", requires=("a",)),
            plugin("user", requires=("a",)),
            plugin("free"),
        ]
    )
    assert ids(resolution) == ["free"]
    assert resolution.excluded == {
        "a": "dependency cycle: a -> b -> a",
        "b": "dependency cycle: b -> a -> b",
        "user": "requires 'a', which is not available: dependency cycle: a -> b -> a",
    }


def test_a_three_plugin_cycle_excludes_everything_that_depends_on_it() -> None:
    resolution = resolve_order(
        [
            plugin("top", requires=("middle",)),
            plugin("middle", requires=("c",)),
            plugin("a", requires=("b",)),
            plugin("b", requires=("c",)),
            plugin("c", requires=("a",)),
            plugin("fine"),
        ]
    )
    assert ids(resolution) == ["fine"]
    assert resolution.excluded["a"] == "dependency cycle: a -> b -> c -> a"
    assert resolution.excluded["b"] == "dependency cycle: b -> c -> a -> b"
    assert resolution.excluded["c"] == "dependency cycle: c -> a -> b -> c"
    assert resolution.excluded["middle"] == (
        "requires 'c', which is not available: dependency cycle: c -> a -> b -> c"
    )
    assert resolution.excluded["top"].startswith("requires 'middle', which is not available: ")
    assert list(resolution.excluded) == ["top", "middle", "a", "b", "c"]


def test_a_plugin_requiring_itself_is_a_cycle() -> None:
    # parse_manifest refuses this, but a hand-made manifest must not break the resolver.
    loop = attrs.evolve(plugin("loop"), requires=(Requirement("loop"),))
    assert resolve_order([loop]).excluded == {"loop": "dependency cycle: loop -> loop"}


def test_a_missing_dependency_excludes_the_plugin_and_its_dependents() -> None:
    resolution = resolve_order(
        [plugin("writer", requires=("voice_input",)), plugin("notes", requires=("writer",))]
    )
    assert ids(resolution) == []
    assert resolution.excluded == {
        "writer": "requires 'voice_input', which is not installed",
        "notes": "requires 'writer', which is not available: "
        "requires 'voice_input', which is not installed",
    }


def test_a_version_mismatch_says_what_is_installed() -> None:
    resolution = resolve_order([plugin("writer", requires=("voice >=2",)), plugin("voice")])
    assert ids(resolution) == ["voice"]
    assert resolution.excluded == {"writer": "requires 'voice >=2', but voice 1.0.0 is installed"}


def test_a_satisfied_version_range_is_fine() -> None:
    resolution = resolve_order(
        [plugin("writer", requires=("voice >=1.2,<2",)), plugin("voice", "1.5.0")]
    )
    assert ids(resolution) == ["voice", "writer"]


def test_disabled_plugins_and_their_dependents_are_excluded() -> None:
    resolution = resolve_order(
        [plugin("voice"), plugin("writer", requires=("voice",)), plugin("clock")],
        disabled=["voice"],
    )
    assert ids(resolution) == ["clock"]
    assert resolution.excluded == {
        "voice": DISABLED_REASON,
        "writer": f"requires 'voice', which is not available: {DISABLED_REASON}",
    }
    assert DISABLED_REASON == "disabled in settings (plugins.disabled)"


def test_a_disabled_plugin_on_a_cycle_is_reported_as_disabled() -> None:
    resolution = resolve_order(
        [plugin("a", requires=("b",)), plugin("b", requires=("a",))], disabled={"b"}
    )
    assert resolution.excluded == {
        "a": f"requires 'b', which is not available: {DISABLED_REASON}",
        "b": DISABLED_REASON,
    }


def test_a_plugin_for_another_butler_version_is_excluded() -> None:
    manifests = [plugin("future", butler=">=2"), plugin("today", butler=">=0.1,<1"), plugin("any")]
    resolution = resolve_order(manifests, host_version="0.1.0")
    assert ids(resolution) == ["today", "any"]
    assert resolution.excluded == {"future": "needs Butler >=2, this is 0.1.0"}
    assert ids(resolve_order(manifests)) == ["future", "today", "any"]  # host unknown


def test_duplicate_ids_keep_the_first() -> None:
    first, second = plugin("same", "1.0.0"), plugin("same", "2.0.0")
    resolution = resolve_order([first, second, plugin("user", requires=("same >=2",))])
    assert resolution.order == (first,)
    assert resolution.excluded == {"user": "requires 'same >=2', but same 1.0.0 is installed"}


@settings(max_examples=200, deadline=None)
@given(
    edges=st.lists(st.lists(st.integers(min_value=0, max_value=11), max_size=3), max_size=12),
    data=st.data(),
)
def test_any_acyclic_graph_is_ordered_completely(edges: list[list[int]], data) -> None:
    # Plugin n may only require plugins with a smaller number, so the graph has no cycle.
    manifests = [
        plugin(f"p{n}", requires=tuple(sorted({f"p{m}" for m in targets if m < n})))
        for n, targets in enumerate(edges)
    ]
    shuffled = data.draw(st.permutations(manifests))
    resolution = resolve_order(shuffled)
    assert resolution.excluded == {}
    position = {manifest.id: index for index, manifest in enumerate(resolution.order)}
    assert sorted(position) == sorted(manifest.id for manifest in manifests)
    for manifest in manifests:
        for requirement in manifest.requires:
            assert position[requirement.id] < position[manifest.id]
    # Input that is already a valid order comes back unchanged.
    assert resolve_order(manifests).order == tuple(manifests)
