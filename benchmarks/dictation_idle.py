"""CPU the server spends listening to silence: a dictation session on a real (virtual) microphone.

Prints JSON. Starts a private PulseAudio virtual microphone (tests/virtual_mic.py), starts
dictation from it into an open document, and measures the server's CPU time over a quiet
interval with psutil (and its queue worker's), against the same server idle without
dictation; and how long butler.dictation.start takes to answer, which it does once the
microphone's stream runs (five starts).
Usage: python benchmarks/dictation_idle.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _lsp import StdioServer, running_server, worker_process
from dictation import Editor

from tests.virtual_mic import VirtualMicrophone

TARGET_PERCENT = 5.0


def cpu_percent(
    processes: list[psutil.Process], seconds: float, server: StdioServer
) -> list[float]:
    """Percent of one core each process used over ``seconds``, reading the server's
    messages meanwhile."""
    before = [sum(process.cpu_times()[:2]) for process in processes]
    began = time.monotonic()
    deadline = began + seconds
    # The notifications must be read, or the server would block on a full pipe.
    server.pump(lambda _: time.monotonic() >= deadline)
    spent = time.monotonic() - began
    after = [sum(process.cpu_times()[:2]) for process in processes]
    return [100 * (b - a) / spent for a, b in zip(before, after, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        runtime = Path(home) / "pulse"
        runtime.mkdir()
        with (
            VirtualMicrophone.start(runtime) as microphone,
            running_server(env=microphone.env) as (server, root),
        ):
            process = psutil.Process(server.proc.pid)
            editor = Editor(server, root / "draft.md")
            time.sleep(2.0)
            idle_before = 100 * _cpu_over(process, args.seconds / 3)
            # butler.dictation.start answers once the microphone's stream runs.
            starts = []
            for _ in range(5):
                began = time.monotonic()
                session = server.command("butler.dictation.start", {"uri": editor.uri})
                starts.append(time.monotonic() - began)
                server.command("butler.dictation.stop", session)
            session = server.command("butler.dictation.start", {"uri": editor.uri})
            time.sleep(1.0)
            worker = worker_process(server)
            listening, worker_listening = cpu_percent([process, worker], args.seconds, server)
            states = [
                m["params"] for m in server.notifications if m["method"] == "butler/dictationState"
            ]
            answer = server.command("butler.dictation.stop", session)
    levels = [s["level"] for s in states if "level" in s]
    print(
        json.dumps(
            {
                "seconds": args.seconds,
                "server_cpu_percent_listening": round(listening, 2),
                "start_to_listening_s": {
                    "median": round(statistics.median(starts), 3),
                    "max": round(max(starts), 3),
                    "runs": len(starts),
                },
                "server_cpu_percent_idle_no_dictation": round(idle_before, 2),
                "worker_cpu_percent_listening": round(worker_listening, 2),
                "state_notifications_per_s": round(len(states) / args.seconds, 1),
                "level_dbfs_max": max(levels) if levels else None,
                "text": answer["text"],
                "target": f"<= {TARGET_PERCENT}% of one core while listening to silence",
                "within_target": listening <= TARGET_PERCENT,
            },
            indent=2,
        )
    )


def _cpu_over(process: psutil.Process, seconds: float) -> float:
    before = sum(process.cpu_times()[:2])
    time.sleep(seconds)
    return (sum(process.cpu_times()[:2]) - before) / seconds


if __name__ == "__main__":
    main()
