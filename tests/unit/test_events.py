"""Unit tests for butler_ls.host.events: the named signals and the error-isolating emit."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import warnings

import blinker
import pytest

from butler_ls.host import events

EXPECTED = {
    "server_started": [],
    "server_stopping": [],
    "initialized": [],
    "config_changed": ["settings", "previous"],
    "plugin_activated": ["plugin_id"],
    "plugin_failed": ["plugin_id", "reason"],
    "plugin_deactivated": ["plugin_id"],
    "capability_registered": ["name", "provider_id"],
    "capability_unregistered": ["name", "provider_id"],
    "document_opened": ["uri"],
    "document_changed": ["uri", "changes", "version"],
    "document_closed": ["uri"],
    "document_saved": ["uri"],
}


@pytest.fixture(autouse=True)
def _unbound_loop():
    yield
    events.bind_loop(None)


@pytest.fixture
def signal() -> blinker.NamedSignal:
    return blinker.Namespace().signal("test_signal", "A signal for one test.")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_signal_is_named_in_the_namespace_with_a_doc(name):
    sig = events.namespace[name]
    assert getattr(events, name) is sig
    assert sig.name == name
    doc = sig.__doc__ or ""
    assert "Fired" in doc and "Sender" in doc
    for kwarg in EXPECTED[name]:
        assert f"``{kwarg}``" in doc, f"{name} doc does not mention {kwarg}"


def test_module_defines_exactly_the_documented_signals():
    defined = {n for n, v in vars(events).items() if isinstance(v, blinker.NamedSignal)}
    assert defined == set(EXPECTED)


def test_raising_receiver_is_logged_and_others_still_run(signal, caplog):
    calls = []

    def good_one(sender, **kw):
        calls.append(("one", sender, kw))
        return 1

    def bad(sender, **kw):
        raise ValueError("boom")

    def good_two(sender, **kw):
        calls.append(("two", sender, kw))
        return 2

    for receiver in (good_one, bad, good_two):
        signal.connect(receiver, weak=False)
    with caplog.at_level(logging.ERROR, logger="butler_ls.host.events"):
        results = events.emit(signal, "me", uri="file:///a")

    assert sorted(c[0] for c in calls) == ["one", "two"]
    assert all(c[1:] == ("me", {"uri": "file:///a"}) for c in calls)
    assert dict(results) == {good_one: 1, good_two: 2}
    [record] = [r for r in caplog.records if r.name == "butler_ls.host.events"]
    assert record.levelno == logging.ERROR
    assert record.exc_info and record.exc_info[0] is ValueError
    assert "bad" in record.getMessage() and "test_signal" in record.getMessage()
    assert "file:///a" not in record.getMessage()  # kwargs may be private text


def test_keyboard_interrupt_is_not_swallowed(signal):
    def stop(sender):
        raise KeyboardInterrupt

    signal.connect(stop, weak=False)
    with pytest.raises(KeyboardInterrupt):
        events.emit(signal)


def test_weak_false_receiver_outlives_its_scope_and_weak_one_does_not(signal):
    calls = []

    def connect_both():
        def strong(sender):
            calls.append("strong")

        def weak(sender):
            calls.append("weak")

        signal.connect(strong, weak=False)
        signal.connect(weak)  # blinker's default: weak=True

    connect_both()
    gc.collect()
    events.emit(signal)
    assert calls == ["strong"]


def test_weak_bound_method_receiver_works_while_alive(signal):
    class Listener:
        def __init__(self):
            self.seen = []

        def on(self, sender, **kw):
            self.seen.append(kw)

    listener = Listener()
    signal.connect(listener.on)
    events.emit(signal, None, n=1)
    assert listener.seen == [{"n": 1}]
    del listener
    gc.collect()
    assert events.emit(signal, None, n=2) == []


def test_sender_specific_and_any_receivers(signal):
    a, b = object(), object()
    seen = []
    signal.connect(lambda s: seen.append(("for_a", s)), sender=a, weak=False)
    signal.connect(lambda s: seen.append(("any", s)), weak=False)

    events.emit(signal, b)
    assert seen == [("any", b)]
    seen.clear()
    events.emit(signal, a)
    assert sorted(tag for tag, _ in seen) == ["any", "for_a"]


def test_muted_signal_calls_nobody(signal):
    seen = []
    signal.connect(lambda s: seen.append(s), weak=False)
    with signal.muted():
        assert events.emit(signal, 1) == []
    assert seen == []


def test_same_receivers_as_blinker_send(signal):
    sender = object()
    signal.connect(lambda s: "x", sender=sender, weak=False)
    signal.connect(lambda s: "y", weak=False)
    assert sorted(v for _, v in events.emit(signal, sender)) == sorted(
        v for _, v in signal.send(sender)
    )


async def test_async_receiver_is_scheduled_on_the_running_loop(signal, caplog):
    done = asyncio.Event()

    async def receiver(sender, **kw):
        done.set()
        return "ran"

    async def failing(sender, **kw):
        raise RuntimeError("late boom")

    signal.connect(receiver, weak=False)
    signal.connect(failing, weak=False)
    with caplog.at_level(logging.ERROR, logger="butler_ls.host.events"):
        results = dict(events.emit(signal))
        await asyncio.wait_for(done.wait(), 1)
        task = results[receiver]
        assert await task == "ran"
        with pytest.raises(RuntimeError):
            await results[failing]
        await asyncio.sleep(0)  # let the done-callback log
    assert any("failing" in r.getMessage() for r in caplog.records)


def test_async_receiver_without_loop_is_closed_with_a_warning(signal, caplog):
    ran = []

    async def receiver(sender):
        ran.append(True)

    signal.connect(receiver, weak=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would fail here
        with caplog.at_level(logging.WARNING, logger="butler_ls.host.events"):
            results = events.emit(signal)
        gc.collect()
    assert results == [(receiver, None)]
    assert ran == []
    assert any("not run" in r.getMessage() for r in caplog.records)


async def test_emit_from_a_thread_uses_the_bound_loop(signal):
    loop = asyncio.get_running_loop()
    events.bind_loop(loop)
    ran_on = []
    done = asyncio.Event()

    async def receiver(sender):
        ran_on.append(threading.get_ident())
        done.set()

    signal.connect(receiver, weak=False)
    await asyncio.to_thread(events.emit, signal)
    await asyncio.wait_for(done.wait(), 1)
    assert ran_on == [threading.get_ident()]


async def test_emit_async_awaits_and_isolates_errors(signal, caplog):
    async def slow(sender, **kw):
        await asyncio.sleep(0)
        return kw["uri"]

    async def bad(sender, **kw):
        raise OSError("disk")

    def plain(sender, **kw):
        return "plain"

    for receiver in (slow, bad, plain):
        signal.connect(receiver, weak=False)
    with caplog.at_level(logging.ERROR, logger="butler_ls.host.events"):
        results = await events.emit_async(signal, None, uri="file:///n")
    assert dict(results) == {slow: "file:///n", plain: "plain"}
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [OSError]


def test_real_signal_with_connected_to(caplog):
    seen = []

    def on_saved(sender, uri):
        seen.append(uri)

    with events.document_saved.connected_to(on_saved):
        events.emit(events.document_saved, None, uri="file:///x.md")
    events.emit(events.document_saved, None, uri="file:///y.md")
    assert seen == ["file:///x.md"]
