"""Start-up figures of butler-ls: spawn to initialize answer, idle memory, heavy imports,
beside a bare pygls server with one command (_bare_pygls.py), runs alternating.

Prints JSON. Runs the real server over stdio with a minimal hand-written LSP client so
the client's own start-up is not counted. Usage: python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lsp import StdioServer, isolated_env

HEAVY = ("ctranslate2", "onnxruntime", "numpy", "faster_whisper")
BARE = [sys.executable, "-P", str(Path(__file__).resolve().parent / "_bare_pygls.py")]


def one_run(env: dict[str, str], root: Path, bare: bool = False) -> dict:
    start = time.perf_counter()
    server = StdioServer(env, BARE if bare else None)
    server.initialize(root)
    initialize_ms = (time.perf_counter() - start) * 1000
    server.command("bare.hello" if bare else "butler.status")
    time.sleep(1.0)  # idle, as an editor leaves it
    pid = server.proc.pid
    rss_mb = _rss_mb(pid)
    maps = Path(f"/proc/{pid}/maps").read_text()
    server.close()
    time.sleep(1.0)  # what the status call started (the microphone probe) ends before the next run
    return {
        "initialize_ms": initialize_ms,
        "rss_mb": rss_mb,
        "heavy": [name for name in HEAVY if name in maps],
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = isolated_env(tmp)
        root = Path(tmp) / "workspace"
        root.mkdir()
        one_run(env, root)  # warm the OS file cache, as any second start would be
        one_run(env, root, bare=True)
        runs, bare = [], []
        for _ in range(args.runs):
            runs.append(one_run(env, root))
            bare.append(one_run(env, root, bare=True))
    init = [r["initialize_ms"] for r in runs]
    rss = [r["rss_mb"] for r in runs]
    bare_init = statistics.median(r["initialize_ms"] for r in bare)
    print(
        json.dumps(
            {
                "runs": args.runs,
                "initialize_ms_median": round(statistics.median(init), 1),
                "initialize_ms_min": round(min(init), 1),
                "initialize_ms_max": round(max(init), 1),
                "idle_rss_mb_median": round(statistics.median(rss), 1),
                "idle_rss_mb_max": round(max(rss), 1),
                "heavy_modules_loaded": sorted({h for r in runs for h in r["heavy"]}),
                "bare_pygls_initialize_ms_median": round(bare_init, 1),
                "bare_pygls_idle_rss_mb_median": round(
                    statistics.median(r["rss_mb"] for r in bare), 1
                ),
                "ratio_to_bare_pygls": round(statistics.median(init) / bare_init, 2),
                "targets": {"ratio_to_bare_pygls": 1.3, "idle_rss_mb": 60},
                "python": sys.version.split()[0],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
