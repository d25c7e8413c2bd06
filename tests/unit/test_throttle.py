"""Unit tests for butler_ls.queue.throttle: when batch work waits and dictation slows down.

Readings are injected; psutil is faked except in one smoke test; priority runs in a child.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from types import SimpleNamespace

import attrs
import pytest

from butler_ls.queue import throttle
from butler_ls.queue.throttle import Readings, Sampler, backoff, decide, set_low_priority
from butler_ls.util.config import ThrottleSettings

CALM = Readings(
    cpu_percent=20.0,
    available_memory_mb=8000.0,
    on_battery=None,
    battery_percent=None,
    cpu_count=8,
)
DEFAULTS = ThrottleSettings()


def _evolve(**changes) -> Readings:
    return attrs.evolve(CALM, **changes)


# --- batch work -----------------------------------------------------------------------------


def test_batch_runs_at_low_priority_on_the_idle_cores():
    decision = decide("batch", CALM, DEFAULTS)  # 20% of 8 cores busy: 6.4 idle
    assert decision.run
    assert decision.threads == 6
    assert decision.reason is None
    assert decision.retry_in == 0
    assert decision.low_priority
    assert decide("batch", _evolve(cpu_percent=0.0), DEFAULTS).threads == 8
    # One of two cores busy elsewhere: one thread, so none spins against the other program.
    two = _evolve(cpu_count=2, cpu_percent=50.0)
    assert decide("batch", two, DEFAULTS).threads == 1
    assert decide("batch", _evolve(cpu_count=2, cpu_percent=84.0), DEFAULTS).threads == 1


def test_max_threads_replaces_the_cpu_count():
    assert decide("batch", CALM, DEFAULTS, max_threads=3).threads == 3
    assert decide("batch", CALM, DEFAULTS, max_threads=0).threads == 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"cpu_percent": 93.2}, "CPU load 93% is above throttle.maxCpuPercent (85%)"),
        (
            {"available_memory_mb": 312.4},
            "Free memory 312 MB is below throttle.minFreeMemoryMb (500 MB)",
        ),
        (
            {"on_battery": True, "battery_percent": 80.0},
            'The computer is on battery and throttle.onBattery is "defer"',
        ),
    ],
)
def test_batch_waits_under_each_kind_of_pressure(changes, expected):
    decision = decide("batch", _evolve(**changes), DEFAULTS, rng=random.Random(1))
    assert not decision.run
    assert decision.reason == expected
    assert decision.retry_in > 0
    assert decision.low_priority


def test_low_battery_waits_even_when_battery_work_is_allowed():
    settings = ThrottleSettings(on_battery="run")
    low = _evolve(on_battery=True, battery_percent=12.0)
    decision = decide("batch", low, settings)
    assert not decision.run
    assert decision.reason == "Battery at 12% is below throttle.minBatteryPercent (20%)"


def test_on_battery_run_lets_batch_work_run():
    settings = ThrottleSettings(on_battery="run")
    decision = decide("batch", _evolve(on_battery=True, battery_percent=80.0), settings)
    assert decision.run
    assert decision.reason is None


@pytest.mark.parametrize("on_battery", [None, False])
def test_battery_is_ignored_without_one_or_on_mains_power(on_battery):
    # An empty or absent battery reading must not hold work back on a desktop or a charger.
    readings = _evolve(on_battery=on_battery, battery_percent=3.0)
    assert decide("batch", readings, DEFAULTS).run
    assert decide("interactive", readings, DEFAULTS).reason is None


def test_the_first_cause_is_named_when_several_apply():
    readings = _evolve(cpu_percent=99.0, available_memory_mb=10.0)
    assert decide("batch", readings, DEFAULTS).reason.startswith("CPU load 99%")
    assert len(throttle.pressure_causes(readings, DEFAULTS)) == 2


def test_limits_are_strict_and_rounding_does_not_hide_the_excess():
    assert decide("batch", _evolve(cpu_percent=85.0), DEFAULTS).run
    assert decide("batch", _evolve(available_memory_mb=500.0), DEFAULTS).run
    reason = decide("batch", _evolve(cpu_percent=85.3), DEFAULTS).reason
    assert reason == "CPU load 85.3% is above throttle.maxCpuPercent (85%)"
    reason = decide("batch", _evolve(cpu_percent=85.04), DEFAULTS).reason
    assert reason.startswith("CPU load 85.04% ")


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="interactive"):
        decide("urgent", CALM, DEFAULTS)  # type: ignore[arg-type]


# --- backoff ---------------------------------------------------------------------------------


def test_backoff_doubles_then_caps_at_a_minute():
    middle = SimpleNamespace(uniform=lambda a, b: (a + b) / 2)
    waits = [backoff(attempt, middle) for attempt in range(8)]
    assert waits == pytest.approx([2, 4, 8, 16, 32, 60, 60, 60])
    assert backoff(10_000, middle) == pytest.approx(60)
    assert backoff(-3, middle) == pytest.approx(2)


@pytest.mark.parametrize("attempt", [0, 3, 20])
def test_backoff_jitter_stays_within_twenty_percent(attempt):
    rng = random.Random(42)
    base = min(60, 2 * 2**attempt)
    waits = [backoff(attempt, rng) for _ in range(500)]
    assert all(0.8 * base <= wait <= 1.2 * base for wait in waits)
    # Spread out, so tasks deferred together do not all retry together.
    assert max(waits) - min(waits) > 0.3 * base


def test_retry_in_follows_the_attempt_and_is_repeatable_with_a_seed():
    busy = _evolve(cpu_percent=99.0)
    first = decide("batch", busy, DEFAULTS, attempt=0, rng=random.Random(7)).retry_in
    again = decide("batch", busy, DEFAULTS, attempt=0, rng=random.Random(7)).retry_in
    later = decide("batch", busy, DEFAULTS, attempt=6, rng=random.Random(7)).retry_in
    assert first == again
    assert 1.6 <= first <= 2.4
    assert 48 <= later <= 72


# --- interactive work ------------------------------------------------------------------------


def test_dictation_runs_with_all_threads_at_normal_priority_when_calm():
    decision = decide("interactive", CALM, DEFAULTS)
    assert decision == throttle.Decision(
        run=True, threads=8, reason=None, retry_in=0.0, low_priority=False
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"cpu_percent": 100.0},
        {"available_memory_mb": 1.0},
        {"on_battery": True, "battery_percent": 5.0},
    ],
)
def test_dictation_is_never_deferred_but_gets_fewer_threads_under_pressure(changes):
    decision = decide("interactive", _evolve(**changes), DEFAULTS, attempt=5)
    assert decision.run
    assert decision.threads == 4
    assert decision.retry_in == 0
    assert not decision.low_priority
    assert decision.reason.startswith("Dictation runs slower (4 of 8 CPU threads): ")


def test_dictation_reason_names_the_cause():
    decision = decide("interactive", _evolve(cpu_percent=97.0), DEFAULTS, max_threads=5)
    assert decision.threads == 2
    assert decision.reason == (
        "Dictation runs slower (2 of 5 CPU threads): "
        "CPU load 97% is above throttle.maxCpuPercent (85%)"
    )


def test_dictation_on_one_cpu_keeps_its_thread_and_claims_no_slowdown():
    decision = decide("interactive", _evolve(cpu_percent=99.0, cpu_count=1), DEFAULTS)
    assert decision.run
    assert decision.threads == 1
    assert decision.reason is None


# --- Sampler ---------------------------------------------------------------------------------


class FakePsutil:
    """Just enough of psutil for Sampler, with counters and settable values."""

    def __init__(self, battery=None, cpu_count=4):
        self.cpu = 42.0
        self.available = 3 * 2**30
        self.battery = battery
        self.logical_cpus = cpu_count
        self.cpu_calls: list[float | None] = []

    def cpu_percent(self, interval=None):
        self.cpu_calls.append(interval)
        return self.cpu

    def virtual_memory(self):
        return SimpleNamespace(available=self.available, total=8 * 2**30)

    def cpu_count(self, logical=True):
        return self.logical_cpus

    def sensors_battery(self):
        if isinstance(self.battery, Exception):
            raise self.battery
        return self.battery


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_sampler_without_a_battery():
    fake = FakePsutil()
    readings = Sampler(psutil_module=fake).read()
    assert readings == Readings(
        cpu_percent=42.0,
        available_memory_mb=3072.0,
        on_battery=None,
        battery_percent=None,
        cpu_count=4,
    )
    # A priming call in the constructor, then non-blocking reads only.
    assert fake.cpu_calls == [None, None]


@pytest.mark.parametrize(("plugged", "on_battery"), [(False, True), (True, False), (None, None)])
def test_sampler_with_a_battery(plugged, on_battery):
    battery = SimpleNamespace(percent=37, secsleft=3600, power_plugged=plugged)
    readings = Sampler(psutil_module=FakePsutil(battery=battery)).read()
    assert readings.on_battery is on_battery
    assert readings.battery_percent == 37.0


def test_a_failing_battery_sensor_reads_as_no_battery():
    fake = FakePsutil(battery=OSError("no such device"))
    readings = Sampler(psutil_module=fake).read()
    assert (readings.on_battery, readings.battery_percent) == (None, None)


def test_a_platform_without_battery_support_reads_as_no_battery():
    fake = FakePsutil()
    fake.sensors_battery = None  # psutil leaves the function out where it is not supported
    assert Sampler(psutil_module=fake).read().on_battery is None


def test_an_unknown_cpu_count_reads_as_one():
    assert Sampler(psutil_module=FakePsutil(cpu_count=None)).read().cpu_count == 1


def test_sampler_caches_for_ttl_seconds():
    fake, clock = FakePsutil(), Clock()
    sampler = Sampler(ttl=2.0, psutil_module=fake, clock=clock)
    assert sampler.read().cpu_percent == 42.0

    fake.cpu = 95.0
    clock.now += 1.9
    assert sampler.read().cpu_percent == 42.0
    clock.now += 0.1
    assert sampler.read().cpu_percent == 95.0
    assert len(fake.cpu_calls) == 3


def test_real_sampler_reads_sane_values_on_this_machine():
    readings = Sampler(ttl=0).read()
    assert 0 <= readings.cpu_percent <= 100
    assert readings.available_memory_mb > 0
    assert readings.cpu_count >= 1
    assert readings.on_battery in (None, True, False)
    if readings.battery_percent is not None:
        assert 0 <= readings.battery_percent <= 100


# --- priority --------------------------------------------------------------------------------

PRIORITY_CHILD = """
import json, os
from butler_ls.queue.throttle import set_low_priority
nice = lambda: os.getpriority(os.PRIO_PROCESS, 0)
seen = [nice()]
for enabled in (True, True, False, False):
    set_low_priority(enabled)
    seen.append(nice())
print(json.dumps(seen))
"""


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX priorities")
def test_low_priority_lowers_and_restores_in_a_child_process():
    done = subprocess.run(
        [sys.executable, "-c", PRIORITY_CHILD], capture_output=True, text=True, check=True
    )
    before, low, still_low, after, still_after = json.loads(done.stdout)
    assert low == still_low == max(before, 10)
    # Raising priority back needs privileges; without them the child stays nice.
    assert after == still_after
    assert after in (before, low)
    if os.geteuid() == 0:
        assert after == before


@pytest.fixture
def fake_nice(monkeypatch):
    """A fake process priority that counts system calls and refuses to rise unprivileged."""
    priority = SimpleNamespace(value=0, calls=0, privileged=False)

    def setpriority(which, who, value):
        priority.calls += 1
        if value < priority.value and not priority.privileged:
            raise PermissionError(13, "Permission denied")
        priority.value = value

    monkeypatch.setattr(throttle.sys, "platform", "linux")

    def getpriority(which, who):
        return priority.value

    monkeypatch.setattr(throttle.os, "getpriority", getpriority, raising=False)
    monkeypatch.setattr(throttle.os, "setpriority", setpriority, raising=False)
    monkeypatch.setattr(throttle.os, "PRIO_PROCESS", 0, raising=False)
    monkeypatch.setattr(throttle, "_priority", threading.local())
    return priority


def test_repeated_calls_make_no_system_calls(fake_nice):
    fake_nice.privileged = True
    set_low_priority(True)
    set_low_priority(True)
    assert (fake_nice.value, fake_nice.calls) == (10, 1)
    set_low_priority(False)
    set_low_priority(False)
    assert (fake_nice.value, fake_nice.calls) == (0, 2)


def test_a_refused_restore_stays_low_and_is_not_retried(fake_nice):
    set_low_priority(True)
    set_low_priority(False)
    set_low_priority(False)
    set_low_priority(True)
    assert fake_nice.value == 10
    assert fake_nice.calls == 2  # the lowering and one refused restore


def test_a_priority_already_lower_is_left_alone(fake_nice):
    fake_nice.value = 19
    set_low_priority(True)
    set_low_priority(False)
    assert (fake_nice.value, fake_nice.calls) == (19, 0)


def test_unplugging_alone_does_not_slow_dictation_but_a_low_battery_does():
    settings = ThrottleSettings()
    plugged_out = _evolve(on_battery=True, battery_percent=80.0)
    calm = decide("interactive", plugged_out, settings)
    assert calm.threads == CALM.cpu_count and calm.reason is None
    low = decide("interactive", _evolve(on_battery=True, battery_percent=5.0), settings)
    assert low.threads < CALM.cpu_count and "minBatteryPercent" in low.reason
    assert decide("batch", plugged_out, settings).run is False
