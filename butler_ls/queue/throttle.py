"""Resource policy for worker tasks: whether batch work waits and how many threads it gets.

``decide`` is pure (readings in, decision out); ``Sampler`` reads psutil without blocking.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import attrs

from butler_ls.util.config import ThrottleSettings

log = logging.getLogger(__name__)

Kind = Literal["interactive", "batch"]

BACKOFF_BASE = 2.0
"""Seconds to wait after the first deferral; doubles with each attempt."""

BACKOFF_CAP = 60.0
"""Longest wait before jitter, so a deferred file is retried at least about once a minute."""

BACKOFF_JITTER = 0.2
"""Waits vary by this fraction either way, so deferred tasks do not all wake at once."""

LOW_NICE = 10
"""The nice value of a low-priority task: the usual ``nice`` default, well behind the editor."""


@attrs.frozen
class Readings:
    """One snapshot of the machine, as ``decide`` sees it."""

    cpu_percent: float
    """System-wide CPU load, 0-100."""

    available_memory_mb: float
    """Memory available to new work, in MiB (``virtual_memory().available``)."""

    on_battery: bool | None
    """True on battery power; None when there is no battery or its state is unknown."""

    battery_percent: float | None
    """Charge left, 0-100; None without a battery."""

    cpu_count: int
    """Logical CPUs."""


@attrs.frozen
class Decision:
    """What the worker does with one task now."""

    run: bool
    """False: put the task back and try again in ``retry_in`` seconds (batch only)."""

    threads: int
    """CPU threads to give the model for this task, at least 1."""

    reason: str | None
    """Why the task waits or runs slower, worded for the user; None when nothing holds it back."""

    retry_in: float
    """Seconds to wait before the next try when deferred; 0 when it runs."""

    low_priority: bool
    """True when the worker should lower its OS priority for this task (all batch work)."""


def pressure_causes(readings: Readings, settings: ThrottleSettings) -> list[str]:
    """Every reason the machine is under pressure, most important first; empty when it is not."""
    causes = []
    if readings.cpu_percent > settings.max_cpu_percent:
        shown = _shown(readings.cpu_percent, settings.max_cpu_percent)
        causes.append(
            f"CPU load {shown}% is above throttle.maxCpuPercent ({settings.max_cpu_percent:g}%)"
        )
    if readings.available_memory_mb < settings.min_free_memory_mb:
        shown = _shown(readings.available_memory_mb, settings.min_free_memory_mb)
        causes.append(
            f"free memory {shown} MB is below throttle.minFreeMemoryMb "
            f"({settings.min_free_memory_mb} MB)"
        )
    # A machine without a battery (None) or on mains power (False) never defers for power.
    if readings.on_battery is True:
        if settings.on_battery == "defer":
            causes.append('the computer is on battery and throttle.onBattery is "defer"')
        percent = readings.battery_percent
        if percent is not None and percent < settings.min_battery_percent:
            shown = _shown(percent, settings.min_battery_percent)
            causes.append(
                f"battery at {shown}% is below throttle.minBatteryPercent "
                f"({settings.min_battery_percent}%)"
            )
    return causes


def decide(
    kind: Kind,
    readings: Readings,
    settings: ThrottleSettings,
    *,
    attempt: int = 0,
    max_threads: int | None = None,
    rng: random.Random | None = None,
) -> Decision:
    """Decide whether a task of ``kind`` runs now, with how many threads, and at what priority.

    ``attempt`` counts earlier deferrals of the same task (for the backoff); ``max_threads``
    replaces the CPU count as the full thread budget; ``rng`` makes the jitter repeatable.
    """
    if kind not in ("interactive", "batch"):
        raise ValueError(f'kind must be "interactive" or "batch", not {kind!r}')
    full = max(1, max_threads if max_threads is not None else readings.cpu_count)
    causes = pressure_causes(readings, settings)
    cause = _capitalized(causes[0]) if causes else None

    if kind == "batch":
        if cause is None:
            # At nice 10, threads that share a core with a busy program spin at every
            # sync point (a 2 s job took 22-56 s): take only the cores that are idle.
            idle = readings.cpu_count * max(0.0, 100.0 - readings.cpu_percent) / 100.0
            threads = max(1, min(full, round(idle)))
            return Decision(run=True, threads=threads, reason=None, retry_in=0.0, low_priority=True)
        return Decision(
            run=False,
            threads=full,
            reason=cause,
            retry_in=backoff(attempt, rng),
            low_priority=True,
        )

    # Live dictation must never wait: under pressure it shares the machine by using
    # fewer threads instead, which costs latency but keeps the editor responsive.
    # throttle.onBattery is about deferring batch work; unplugging alone does not
    # slow dictation down (a low battery still does).
    causes = [c for c in causes if "throttle.onBattery" not in c]
    if not causes:
        return Decision(run=True, threads=full, reason=None, retry_in=0.0, low_priority=False)
    threads = max(1, full // 2)
    reason = None
    if threads < full:
        reason = f"Dictation runs slower ({threads} of {full} CPU threads): {causes[0]}"
    return Decision(run=True, threads=threads, reason=reason, retry_in=0.0, low_priority=False)


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``attempt`` earlier deferrals: 2, 4, 8 ... up to 60, each ±20%."""
    # Clamped so a task deferred for days does not build a huge power of two.
    exponent = min(max(attempt, 0), 16)
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2**exponent)
    # The jitter applies after the cap, so long waits stay spread out too (48-72 s).
    factor = (rng or _rng).uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)
    return base * factor


_rng = random.Random()


def _shown(value: float, limit: float) -> str:
    """``value`` rounded for the user, with decimals only where rounding would hide the excess."""
    for decimals in range(3):
        shown = f"{value:.{decimals}f}"
        if float(shown) != limit:
            return shown
    return shown


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


class Sampler:
    """Reads psutil, cached for ``ttl`` seconds; never blocks.

    CPU load is psutil's ``cpu_percent(interval=None)``: the load since the previous call.
    The constructor makes a priming call, so the first ``read`` is already meaningful
    (over the short time since construction) instead of psutil's first-call 0.0.
    """

    def __init__(
        self,
        ttl: float = 1.0,
        psutil_module: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if psutil_module is None:
            import psutil as psutil_module
        self._psutil = psutil_module
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: Readings | None = None
        self._read_at = 0.0
        self._psutil.cpu_percent(interval=None)

    def read(self) -> Readings:
        """The current readings, or the last ones when they are younger than ``ttl``."""
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._read_at >= self._ttl:
                self._cached = self._sample()
                self._read_at = now
            return self._cached

    def _sample(self) -> Readings:
        ps = self._psutil
        on_battery, battery_percent = self._battery()
        return Readings(
            cpu_percent=float(ps.cpu_percent(interval=None)),
            available_memory_mb=ps.virtual_memory().available / 2**20,
            on_battery=on_battery,
            battery_percent=battery_percent,
            # psutil answers None when the count cannot be determined.
            cpu_count=ps.cpu_count(logical=True) or 1,
        )

    def _battery(self) -> tuple[bool | None, float | None]:
        sensors_battery = getattr(self._psutil, "sensors_battery", None)
        if sensors_battery is None:
            return None, None
        try:
            battery = sensors_battery()
        except Exception:
            # Battery drivers fail in odd ways; no battery reading must not stop the queue.
            log.debug("could not read the battery", exc_info=True)
            return None, None
        if battery is None:
            return None, None
        plugged = battery.power_plugged
        on_battery = None if plugged is None else not plugged
        return on_battery, float(battery.percent)


_priority = threading.local()
"""Per thread: the ``original`` priority, a ``low`` flag, ``stuck`` when it cannot go back up."""


def set_low_priority(enabled: bool) -> None:
    """Lower the caller's CPU priority to nice 10, or restore it where the OS allows.

    Lowering is always allowed; raising it back needs privileges (CAP_SYS_NICE or root)
    on most systems, so a refused restore is logged once and the task stays at nice 10.
    On Linux the nice value belongs to the calling thread (setpriority(2), NPTL), elsewhere
    to the whole process: call it from the thread that runs the work. Repeated calls with
    the same value make no system call. On Windows "low" is the below-normal priority class.
    """
    state = _priority
    if enabled == getattr(state, "low", False) or (not enabled and getattr(state, "stuck", False)):
        return
    if enabled:
        try:
            state.original = _lower()
        except OSError as exc:
            # Only a sandbox forbids this; the task still runs, just at normal priority.
            log.warning("cannot lower CPU priority: %s", exc)
            return
        state.low = True
        return
    try:
        _restore(state.original)
    except PermissionError:
        log.info("cannot restore CPU priority %s without privileges", state.original)
        state.stuck = True
        return
    state.low = False


def _lower() -> int:
    """Lower the priority to the low level; return what it was, to restore later."""
    if sys.platform == "win32":
        import psutil

        process = psutil.Process()
        original = process.nice()
        if original not in (psutil.IDLE_PRIORITY_CLASS, psutil.BELOW_NORMAL_PRIORITY_CLASS):
            process.nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
        return original
    original = os.getpriority(os.PRIO_PROCESS, 0)
    # Never raise a priority someone already lowered further (e.g. `nice -n 19 butler-ls`).
    if original < LOW_NICE:
        os.setpriority(os.PRIO_PROCESS, 0, LOW_NICE)
    return original


def _restore(original: int) -> None:
    if sys.platform == "win32":
        import psutil

        psutil.Process().nice(original)
        return
    if os.getpriority(os.PRIO_PROCESS, 0) != original:
        os.setpriority(os.PRIO_PROCESS, 0, original)
