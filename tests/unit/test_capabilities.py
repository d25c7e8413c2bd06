"""butler_ls.host.capabilities: the thread-safe capability registry and its signals."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from butler_ls.host import events
from butler_ls.host.capabilities import CapabilityRegistry
from butler_ls.util.errors import CapabilityMissing, DuplicateCapability


class Recorder:
    """Collects capability signals sent by one registry, in delivery order."""

    def __init__(self, registry: CapabilityRegistry) -> None:
        self.registry = registry
        self.log: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def on_registered(self, sender, *, name, provider_id):
        with self._lock:
            self.log.append(("registered", name, provider_id))

    def on_unregistered(self, sender, *, name, provider_id):
        with self._lock:
            self.log.append(("unregistered", name, provider_id))

    @contextlib.contextmanager
    def listening(self):
        with (
            events.capability_registered.connected_to(self.on_registered, self.registry),
            events.capability_unregistered.connected_to(self.on_unregistered, self.registry),
        ):
            yield self


def replay(log: list[tuple[str, str, str]]) -> dict[str, str]:
    state: dict[str, str] = {}
    for kind, name, provider_id in log:
        if kind == "registered":
            assert name not in state, f"{name} registered twice without unregistering"
            state[name] = provider_id
        else:
            assert state.pop(name) == provider_id
    return state


@pytest.fixture
def registry() -> CapabilityRegistry:
    return CapabilityRegistry()


@pytest.fixture
def recorder(registry):
    with Recorder(registry).listening() as rec:
        yield rec


def test_provide_get_require(registry, recorder):
    speaker = object()
    registry.provide("speech.tts", speaker, provider_id="voice")
    assert registry.get("speech.tts") is speaker
    assert registry.require("speech.tts") is speaker
    assert registry.provider_id("speech.tts") == "voice"
    assert "speech.tts" in registry and "other" not in registry and 3 not in registry
    assert registry.get("other") is None and registry.get("other", 7) == 7
    assert registry.provider_id("other") is None
    assert recorder.log == [("registered", "speech.tts", "voice")]


def test_require_missing_names_the_capability_and_the_known_ones(registry):
    registry.provide("notes.daily", object(), provider_id="daily_writer")
    registry.provide("speech.stt", object(), provider_id="voice_input")
    with pytest.raises(CapabilityMissing) as info:
        registry.require("notes.search")
    message = str(info.value)
    assert "'notes.search'" in message
    assert "'notes.daily', 'speech.stt'" in message
    with pytest.raises(CapabilityMissing, match="Known capabilities: none"):
        CapabilityRegistry().require("x")


def test_duplicate_names_both_providers_and_the_fix(registry, recorder):
    first = object()
    registry.provide("speech.stt", first, provider_id="voice_input")
    with pytest.raises(DuplicateCapability) as info:
        registry.provide("speech.stt", object(), provider_id="whisper_plus")
    message = str(info.value)
    for part in ("'speech.stt'", "'voice_input'", "'whisper_plus'", "disable", "replace=True"):
        assert part in message
    assert registry.get("speech.stt") is first
    assert len(recorder.log) == 1


def test_replace_unregisters_the_old_then_registers_the_new(registry, recorder):
    registry.provide("speech.stt", "old", provider_id="voice_input")
    registry.provide("speech.stt", "new", provider_id="whisper_plus", replace=True)
    assert registry.get("speech.stt") == "new"
    assert registry.provider_id("speech.stt") == "whisper_plus"
    assert recorder.log == [
        ("registered", "speech.stt", "voice_input"),
        ("unregistered", "speech.stt", "voice_input"),
        ("registered", "speech.stt", "whisper_plus"),
    ]


def test_replace_on_a_free_name_just_registers(registry, recorder):
    registry.provide("a", 1, provider_id="p", replace=True)
    assert recorder.log == [("registered", "a", "p")]


def test_only_the_provider_may_unregister(registry, recorder):
    registry.provide("speech.stt", "x", provider_id="voice_input")
    assert registry.unregister("speech.stt", provider_id="intruder") is False
    assert registry.unregister("never.there", provider_id="voice_input") is False
    assert registry.get("speech.stt") == "x"
    assert registry.unregister("speech.stt", provider_id="voice_input") is True
    assert "speech.stt" not in registry
    assert registry.unregister("speech.stt", provider_id="voice_input") is False
    assert recorder.log == [
        ("registered", "speech.stt", "voice_input"),
        ("unregistered", "speech.stt", "voice_input"),
    ]


def test_unregister_provider_removes_all_of_one_plugin(registry, recorder):
    for name in ("voice.b", "voice.a", "voice.c"):
        registry.provide(name, name, provider_id="voice")
    registry.provide("notes.daily", "d", provider_id="daily_writer")
    recorder.log.clear()

    assert registry.unregister_provider("voice") == ["voice.a", "voice.b", "voice.c"]
    assert registry.names() == ["notes.daily"]
    assert registry.snapshot() == {"notes.daily": "daily_writer"}
    assert recorder.log == [("unregistered", n, "voice") for n in ("voice.a", "voice.b", "voice.c")]
    assert registry.unregister_provider("voice") == []


def test_names_and_snapshot_are_sorted_copies(registry):
    registry.provide("b", 1, provider_id="p2")
    registry.provide("a", 2, provider_id="p1")
    assert registry.names() == ["a", "b"]
    snap = registry.snapshot()
    assert list(snap.items()) == [("a", "p1"), ("b", "p2")]
    snap["c"] = "p3"
    assert "c" not in registry and len(registry) == 2


@pytest.mark.parametrize(
    ("name", "provider_id", "provider", "error"),
    [
        ("", "p", 1, ValueError),
        ("  ", "p", 1, ValueError),
        (3, "p", 1, TypeError),
        ("a", "", 1, ValueError),
        ("a", None, 1, TypeError),
        ("a", "p", None, ValueError),
    ],
)
def test_programming_mistakes_are_rejected(registry, name, provider_id, provider, error):
    with pytest.raises(error):
        registry.provide(name, provider, provider_id=provider_id)
    assert registry.names() == []


def test_receiver_raising_does_not_break_provide(registry, caplog):
    def broken(sender, **kw):
        raise RuntimeError("receiver bug")

    with events.capability_registered.connected_to(broken, registry):
        registry.provide("a", 1, provider_id="p")
    assert registry.get("a") == 1
    assert "receiver bug" in caplog.text


def test_receiver_may_call_back_into_the_registry(registry, recorder):
    seen_inside = []

    def on_registered(sender, *, name, provider_id):
        # Would deadlock if signals were sent under the lock.
        seen_inside.append((name, sender.names(), sender.get(name)))
        if name == "first":
            sender.provide("second", "2", provider_id="chained")
            sender.unregister("first", provider_id=provider_id)

    def run():
        with events.capability_registered.connected_to(on_registered, registry):
            registry.provide("first", "1", provider_id="origin")

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(2)
    assert not worker.is_alive(), "deadlock: receiver could not call back into the registry"
    assert registry.snapshot() == {"second": "chained"}
    # The nested changes are delivered after the outer signal, in the order they happened.
    assert recorder.log == [
        ("registered", "first", "origin"),
        ("registered", "second", "chained"),
        ("unregistered", "first", "origin"),
    ]
    assert seen_inside[0][0] == "first"


def test_wait_for_is_satisfied_from_another_thread(registry):
    timer = threading.Timer(0.05, registry.provide, ("late", "value"), {"provider_id": "slow"})
    timer.start()
    try:
        assert registry.wait_for("late", timeout=2) == "value"
    finally:
        timer.cancel()
    assert registry.wait_for("late", timeout=0) == "value"


def test_wait_for_times_out_with_capability_missing(registry):
    start = time.monotonic()
    with pytest.raises(CapabilityMissing, match=r"'never'.*within 0\.05 s"):
        registry.wait_for("never", timeout=0.05)
    assert time.monotonic() - start < 1


async def test_wait_for_refuses_to_block_the_event_loop(registry):
    with pytest.raises(RuntimeError, match="wait_for_async"):
        registry.wait_for("x", timeout=1)
    registry.provide("x", 1, provider_id="p")
    assert registry.wait_for("x") == 1  # already there: nothing to block on


async def test_wait_for_async_is_satisfied_from_a_thread_without_blocking_the_loop(registry):
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    tick_task = asyncio.create_task(ticker())
    timer = threading.Timer(0.1, registry.provide, ("speech.stt", "stt"), {"provider_id": "v"})
    timer.start()
    try:
        assert await registry.wait_for_async("speech.stt", timeout=2) == "stt"
    finally:
        timer.cancel()
        tick_task.cancel()
    assert ticks >= 3, "the event loop was blocked while waiting"
    assert registry._async_waiters == {}


async def test_wait_for_async_timeout_and_cancel_leave_no_waiter(registry):
    with pytest.raises(CapabilityMissing, match="'never'"):
        await registry.wait_for_async("never", timeout=0.02)
    task = asyncio.create_task(registry.wait_for_async("never"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert registry._async_waiters == {}
    registry.provide("never", 1, provider_id="p")  # resolving nobody is harmless


async def test_wait_for_async_returns_at_once_when_present(registry):
    registry.provide("x", "v", provider_id="p")
    assert await registry.wait_for_async("x", timeout=0) == "v"


def test_concurrent_providers_and_readers_stay_consistent(registry, recorder):
    threads, per_thread = 16, 200
    errors: list[BaseException] = []
    stop = threading.Event()
    barrier = threading.Barrier(threads + 2)

    def writer(t: int) -> None:
        try:
            barrier.wait()
            pid = f"plugin{t}"
            for i in range(per_thread):
                registry.provide(f"cap.{t}.{i}", (t, i), provider_id=pid)
                if i % 2:
                    assert registry.unregister(f"cap.{t}.{i}", provider_id=pid)
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            barrier.wait()
            while not stop.is_set():
                names = registry.names()
                assert names == sorted(names)
                for name in names[-5:]:
                    value = registry.get(name)
                    if value is not None:
                        assert name == f"cap.{value[0]}.{value[1]}"
                registry.snapshot()
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for th in workers + readers:
        th.start()
    for th in workers:
        th.join(10)
    stop.set()
    for th in readers:
        th.join(10)

    assert errors == []
    expected = {
        f"cap.{t}.{i}": f"plugin{t}" for t in range(threads) for i in range(0, per_thread, 2)
    }
    assert registry.snapshot() == expected
    registered = [e for e in recorder.log if e[0] == "registered"]
    assert len(registered) == threads * per_thread
    assert len(recorder.log) == threads * per_thread + threads * per_thread // 2
    assert replay(recorder.log) == expected  # signals arrived in the order of the changes


NAMES = st.sampled_from(["a", "b", "c"])
PROVIDERS = st.sampled_from(["p1", "p2"])


class RegistryMachine(RuleBasedStateMachine):
    """The registry behaves like a dict of name -> (provider, provider id)."""

    def __init__(self) -> None:
        super().__init__()
        self.registry = CapabilityRegistry()
        self.model: dict[str, tuple[object, str]] = {}
        self.recorder = Recorder(self.registry)
        self._listening = self.recorder.listening()
        self._listening.__enter__()

    def teardown(self) -> None:
        self._listening.__exit__(None, None, None)

    @rule(name=NAMES, pid=PROVIDERS, replace=st.booleans(), value=st.integers())
    def provide(self, name, pid, replace, value):
        if name in self.model and not replace:
            with pytest.raises(DuplicateCapability):
                self.registry.provide(name, value, provider_id=pid)
        else:
            self.registry.provide(name, value, provider_id=pid, replace=replace)
            self.model[name] = (value, pid)

    @rule(name=NAMES, pid=PROVIDERS)
    def unregister(self, name, pid):
        owned = self.model.get(name, (None, None))[1] == pid
        assert self.registry.unregister(name, provider_id=pid) is owned
        if owned:
            del self.model[name]

    @rule(pid=PROVIDERS)
    def unregister_provider(self, pid):
        mine = sorted(n for n, (_, p) in self.model.items() if p == pid)
        assert self.registry.unregister_provider(pid) == mine
        for name in mine:
            del self.model[name]

    @invariant()
    def matches_model(self):
        assert self.registry.snapshot() == {n: p for n, (_, p) in sorted(self.model.items())}
        assert self.registry.names() == sorted(self.model)
        for name in ("a", "b", "c"):
            assert self.registry.get(name) == self.model.get(name, (None,))[0]
        assert replay(self.recorder.log) == self.registry.snapshot()


TestRegistryMachine = RegistryMachine.TestCase
TestRegistryMachine.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)
