"""The capability registry: plugins provide and use features by name, never importing each other.

Thread-safe; changes are announced through ``events.capability_registered``/``_unregistered``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from typing import Any, NamedTuple

from butler_ls.host import events
from butler_ls.util.errors import CapabilityMissing, DuplicateCapability

__all__ = ["CapabilityRegistry"]

logger = logging.getLogger(__name__)


class _Entry(NamedTuple):
    provider: object
    provider_id: str


_AsyncWaiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class _Change(NamedTuple):
    registered: bool
    name: str
    provider_id: str


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{what} must not be empty")
    return value


def _known(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "none"


def _resolve(fut: asyncio.Future[Any], value: object) -> None:
    if not fut.done():
        fut.set_result(value)


class CapabilityRegistry:
    """Named capabilities, each with exactly one provider plugin.

    One lock guards the table. Signals are sent after the lock is released, so a receiver
    may call back into the registry, and always in the order the changes happened: changes
    are queued under the lock and one thread at a time delivers the queue. A change made
    while another thread (or an outer receiver) is delivering is delivered by that thread,
    right after the signal in progress, so it can reach receivers a moment after the call
    that made it has returned.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._entries: dict[str, _Entry] = {}
        self._async_waiters: dict[str, list[_AsyncWaiter]] = {}
        self._outbox: collections.deque[_Change] = collections.deque()
        self._delivering = False

    # -- changes --------------------------------------------------------------------------

    def provide(
        self, name: str, provider: object, *, provider_id: str, replace: bool = False
    ) -> None:
        """Register ``provider`` as capability ``name`` on behalf of plugin ``provider_id``."""
        _check_text(name, "capability name")
        _check_text(provider_id, "provider_id")
        if provider is None:
            raise ValueError(f"capability {name!r}: provider must not be None")
        with self._lock:
            old = self._entries.get(name)
            if old is not None:
                if not replace:
                    raise DuplicateCapability(
                        f"capability {name!r} is already provided by {old.provider_id!r}, "
                        f"and {provider_id!r} offered it too; disable one of the two "
                        "plugins, or pass replace=True to take it over"
                    )
                del self._entries[name]
                self._outbox.append(_Change(False, name, old.provider_id))
            self._entries[name] = _Entry(provider, provider_id)
            self._outbox.append(_Change(True, name, provider_id))
            waiters = self._async_waiters.pop(name, [])
            self._changed.notify_all()
        for loop, fut in waiters:
            # A closed loop raises RuntimeError; nobody is left there to wake.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, fut, provider)
        self._deliver()

    def unregister(self, name: str, *, provider_id: str) -> bool:
        """Withdraw ``name`` if ``provider_id`` provides it; False (and nothing changes) if not."""
        _check_text(name, "capability name")
        _check_text(provider_id, "provider_id")
        with self._lock:
            entry = self._entries.get(name)
            if entry is None or entry.provider_id != provider_id:
                removed = False
            else:
                del self._entries[name]
                self._outbox.append(_Change(False, name, provider_id))
                removed = True
        if not removed:
            logger.debug("%r may not unregister capability %r: not its provider", provider_id, name)
            return False
        self._deliver()
        return True

    def unregister_provider(self, provider_id: str) -> list[str]:
        """Withdraw every capability of ``provider_id`` (its plugin deactivated); sorted names."""
        _check_text(provider_id, "provider_id")
        with self._lock:
            names = sorted(n for n, e in self._entries.items() if e.provider_id == provider_id)
            for name in names:
                del self._entries[name]
                self._outbox.append(_Change(False, name, provider_id))
        self._deliver()
        return names

    def _deliver(self) -> None:
        """Send queued signals, outside the lock, unless someone is already sending them."""
        with self._lock:
            if self._delivering:
                return
            self._delivering = True
        try:
            while True:
                with self._lock:
                    if not self._outbox:
                        self._delivering = False
                        return
                    change = self._outbox.popleft()
                signal = (
                    events.capability_registered
                    if change.registered
                    else events.capability_unregistered
                )
                events.emit(signal, self, name=change.name, provider_id=change.provider_id)
        except BaseException:
            # Only KeyboardInterrupt and the like get here (emit logs receivers' errors);
            # the rest of the queue goes out with the next change.
            with self._lock:
                self._delivering = False
            raise

    # -- queries --------------------------------------------------------------------------

    def get(self, name: str, default: object = None) -> object:
        """The provider of ``name``, or ``default`` if nothing provides it."""
        with self._lock:
            entry = self._entries.get(name)
        return default if entry is None else entry.provider

    def require(self, name: str) -> object:
        """The provider of ``name``; CapabilityMissing if nothing provides it."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None:
                return entry.provider
            known = sorted(self._entries)
        raise CapabilityMissing(
            f"no plugin provides capability {name!r}; is the plugin that provides it "
            f"installed and enabled? Known capabilities: {_known(known)}"
        )

    def provider_id(self, name: str) -> str | None:
        """The id of the plugin that provides ``name``, or None."""
        with self._lock:
            entry = self._entries.get(name)
        return None if entry is None else entry.provider_id

    def names(self) -> list[str]:
        """Every provided capability name, sorted."""
        with self._lock:
            return sorted(self._entries)

    def snapshot(self) -> dict[str, str]:
        """A copy of the table: capability name -> provider id."""
        with self._lock:
            return {name: e.provider_id for name, e in sorted(self._entries.items())}

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._entries if isinstance(name, str) else False

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"<CapabilityRegistry {self.snapshot()!r}>"

    # -- waiting --------------------------------------------------------------------------

    def wait_for(self, name: str, timeout: float | None = None) -> object:
        """Block this thread until ``name`` is provided; CapabilityMissing after ``timeout`` s.

        Never call it on the event loop thread (it would stall the server): that raises
        RuntimeError unless the capability is already there. Use :meth:`wait_for_async`.
        """
        _check_text(name, "capability name")
        with self._changed:
            entry = self._entries.get(name)
            if entry is not None:
                return entry.provider
            if _on_event_loop():
                raise RuntimeError(
                    f"wait_for({name!r}) would block the event loop; await wait_for_async() instead"
                )
            if self._changed.wait_for(lambda: name in self._entries, timeout):
                return self._entries[name].provider
            known = sorted(self._entries)
        raise CapabilityMissing(_timeout_message(name, timeout, known))

    async def wait_for_async(self, name: str, timeout: float | None = None) -> object:
        """Wait on the running loop, without blocking it, until ``name`` is provided.

        CapabilityMissing after ``timeout`` seconds; it may be provided from any thread.
        """
        _check_text(name, "capability name")
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None:
                return entry.provider
            fut: asyncio.Future[Any] = loop.create_future()
            waiter = (loop, fut)
            self._async_waiters.setdefault(name, []).append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            with self._lock:
                known = sorted(self._entries)
            raise CapabilityMissing(_timeout_message(name, timeout, known)) from None
        finally:
            with self._lock:
                waiters = self._async_waiters.get(name)
                if waiters and waiter in waiters:
                    waiters.remove(waiter)
                    if not waiters:
                        del self._async_waiters[name]


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _timeout_message(name: str, timeout: float | None, known: list[str]) -> str:
    return (
        f"capability {name!r} was not provided within {timeout} s; is the plugin that "
        f"provides it installed and enabled? Known capabilities: {_known(known)}"
    )
