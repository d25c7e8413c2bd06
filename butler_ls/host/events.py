"""Butler's event bus: the named blinker signals that the server and plugins share.

``emit``/``emit_async`` deliver them: a failing receiver is logged, never breaks the sender.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

import blinker

from butler_ls.util import tasks

__all__ = [
    "bind_loop",
    "capability_registered",
    "capability_unregistered",
    "config_changed",
    "document_changed",
    "document_closed",
    "document_opened",
    "document_saved",
    "emit",
    "emit_async",
    "initialized",
    "namespace",
    "plugin_activated",
    "plugin_deactivated",
    "plugin_failed",
    "server_started",
    "server_stopping",
]

logger = logging.getLogger(__name__)

namespace = blinker.Namespace()
"""Every Butler signal, by name; plugins look signals up here instead of importing modules."""

server_started = namespace.signal(
    "server_started",
    "Fired once the session is ready: after the client's ``initialized`` notification "
    "and the first pull of workspace settings. Sender: the server. No kwargs.",
)
server_stopping = namespace.signal(
    "server_stopping",
    "Fired when the client asks the server to shut down, before plugins are "
    "deactivated. Sender: the server. No kwargs.",
)
initialized = namespace.signal(
    "initialized",
    "Fired when the client has connected and sent ``initialized``; plugins are active by "
    "then. Sender: the server. No kwargs.",
)
config_changed = namespace.signal(
    "config_changed",
    "Fired after the settings changed and were validated. Sender: the server. "
    "Kwargs: ``settings`` (the new settings), ``previous`` (the settings before).",
)
plugin_activated = namespace.signal(
    "plugin_activated",
    "Fired after a plugin activated successfully. Sender: the plugin manager. "
    "Kwargs: ``plugin_id``.",
)
plugin_failed = namespace.signal(
    "plugin_failed",
    "Fired when a plugin could not be loaded or activated and was skipped. Sender: the "
    "plugin manager. Kwargs: ``plugin_id``, ``reason`` (a message for the user).",
)
plugin_deactivated = namespace.signal(
    "plugin_deactivated",
    "Fired after a plugin was deactivated and its capabilities withdrawn. Sender: the "
    "plugin manager. Kwargs: ``plugin_id``.",
)
capability_registered = namespace.signal(
    "capability_registered",
    "Fired after a capability was provided (also the new half of a replacement). Sender: "
    "the CapabilityRegistry. Kwargs: ``name``, ``provider_id``.",
)
capability_unregistered = namespace.signal(
    "capability_unregistered",
    "Fired after a capability was withdrawn (also the old half of a replacement). Sender: "
    "the CapabilityRegistry. Kwargs: ``name``, ``provider_id`` (the provider that had it).",
)
document_opened = namespace.signal(
    "document_opened",
    "Fired after ``textDocument/didOpen`` was applied to the workspace. Sender: the "
    "server. Kwargs: ``uri``.",
)
document_changed = namespace.signal(
    "document_changed",
    "Fired after ``textDocument/didChange`` was applied. Sender: the server. Kwargs: "
    "``uri``, ``changes`` (the LSP content changes), ``version`` (the new version).",
)
document_closed = namespace.signal(
    "document_closed",
    "Fired after ``textDocument/didClose``. Sender: the server. Kwargs: ``uri``.",
)
document_saved = namespace.signal(
    "document_saved",
    "Fired after ``textDocument/didSave``. Sender: the server. Kwargs: ``uri``.",
)

_bound_loop: asyncio.AbstractEventLoop | None = None


def bind_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Let emit() from other threads run async receivers on ``loop`` (the server's loop)."""
    global _bound_loop
    _bound_loop = loop


def _describe(obj: object) -> str:
    return getattr(obj, "__qualname__", None) or repr(obj)


def _signal_name(signal: blinker.Signal) -> str:
    return getattr(signal, "name", None) or repr(signal)


def _log_receiver_error(signal: blinker.Signal, receiver: object, exc: BaseException) -> None:
    # kwargs are left out of the message on purpose: they may carry document text.
    logger.error(
        "receiver %s of signal %s raised %s; the other receivers went on",
        _describe(receiver),
        _signal_name(signal),
        type(exc).__name__,
        exc_info=(type(exc), exc, exc.__traceback__),
    )


def _schedule(signal: blinker.Signal, receiver: object, coro: Any) -> object:
    """Run a receiver's coroutine through the task runner, or close it if there is no loop."""
    runner = tasks.default_runner()
    name = f"receiver {_describe(receiver)} of signal {_signal_name(signal)}"
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return runner.spawn(coro, name)
    bound = _bound_loop
    if bound is not None and bound.is_running() and not bound.is_closed():
        return runner.spawn_threadsafe(bound, coro, name)
    coro.close()
    logger.warning(
        "async receiver %s of signal %s was not run: no event loop in this thread and none "
        "bound; use emit_async() or bind_loop()",
        _describe(receiver),
        _signal_name(signal),
    )
    return None


def emit(
    signal: blinker.Signal, sender: object = None, /, **kwargs: Any
) -> list[tuple[Callable[..., Any], object]]:
    """Call each receiver of ``signal`` for ``sender`` (and ANY); log, never raise, its errors.

    Returns ``(receiver, return value)`` for the receivers that did not raise. An async
    receiver is not awaited: its coroutine becomes a task of the process's task runner
    (:func:`butler_ls.util.tasks.default_runner`, the server's) on the running loop of this
    thread, else on the loop given to :func:`bind_loop`, and the task (or concurrent
    future) is its return value; its failure is logged when it finishes. With no loop at
    all the coroutine is closed with a warning and the value is ``None``. Order between
    receivers is undefined; only ``Exception`` is caught, so KeyboardInterrupt and
    SystemExit still stop the sender.
    """
    if signal.is_muted:
        return []
    results: list[tuple[Callable[..., Any], object]] = []
    # receivers_for resolves weak references and drops dead ones, exactly as send() does;
    # it is consumed lazily, like send(), so a receiver disconnected by an earlier one
    # during this emit is skipped.
    for receiver in signal.receivers_for(sender):
        try:
            result = receiver(sender, **kwargs)
        except Exception as exc:
            _log_receiver_error(signal, receiver, exc)
            continue
        if inspect.iscoroutine(result):
            result = _schedule(signal, receiver, result)
        results.append((receiver, result))
    return results


async def emit_async(
    signal: blinker.Signal, sender: object = None, /, **kwargs: Any
) -> list[tuple[Callable[..., Any], object]]:
    """Like :func:`emit`, but await each async receiver in turn and return its result.

    Plain receivers are called directly on the loop, so they must be quick. A receiver's
    exception is logged and the rest go on; cancelling the emitter still cancels.
    """
    if signal.is_muted:
        return []
    results: list[tuple[Callable[..., Any], object]] = []
    for receiver in signal.receivers_for(sender):
        try:
            result = receiver(sender, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            _log_receiver_error(signal, receiver, exc)
            continue
        results.append((receiver, result))
    return results
