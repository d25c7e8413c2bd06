"""Daily-note appends through the LSP command, to a note that is not open in the editor.

Prints JSON: p50/p95 of one append at a time, and a burst of 1000 sent at once (all
kept? how long?). Baseline beside it: safe_write.append_text called directly, in-process.
Usage: python benchmarks/note_append.py [--sequential N] [--burst N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lsp import StdioServer, isolated_env

from butler_ls.util.safe_write import append_text

ENTRY = re.compile(r"^- \d\d:\d\d ")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--burst", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "workspace"
        root.mkdir()
        server = StdioServer(isolated_env(tmp))
        server.initialize(root)
        note = root / "notes" / "daily" / f"{dt.date.today().isoformat()}.md"

        times = []
        for i in range(args.sequential):
            start = time.perf_counter()
            server.command("butler.note.append", {"text": f"sequential {i}"})
            times.append((time.perf_counter() - start) * 1000)

        # Requests are written from a thread while this one reads the answers, so
        # neither pipe fills up and blocks the other side.
        ids: list[int] = []

        def send_burst() -> None:
            for i in range(args.burst):
                params = {"command": "butler.note.append", "arguments": [{"text": f"burst {i}"}]}
                ids.append(server.send("workspace/executeCommand", params))

        start = time.perf_counter()
        sender = threading.Thread(target=send_burst)
        sender.start()
        answered = 0
        while answered < args.burst:
            message = server.read()
            if "id" in message and "method" not in message:
                answered += 1
        sender.join()
        burst_s = time.perf_counter() - start
        lines = [line for line in note.read_text().splitlines() if ENTRY.match(line)]
        burst_kept = sum(1 for line in lines if " burst " in line)
        server.close()

        baseline = []
        plain = Path(tmp) / "plain.md"
        for i in range(args.sequential):
            start = time.perf_counter()
            append_text(plain, f"- 00:00 plain {i}\n")
            baseline.append((time.perf_counter() - start) * 1000)

    print(
        json.dumps(
            {
                "sequential_appends": args.sequential,
                "append_ms_p50": round(statistics.median(times), 2),
                "append_ms_p95": round(percentile(times, 0.95), 2),
                "burst": args.burst,
                "burst_kept": burst_kept,
                "burst_seconds": round(burst_s, 3),
                "baseline_direct_append_text_ms_p50": round(statistics.median(baseline), 2),
                "ratio_lsp_to_direct_p50": round(
                    statistics.median(times) / statistics.median(baseline), 2
                ),
                "targets": {"append_ms_p50": 10, "burst_seconds": 5},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
