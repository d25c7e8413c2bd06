"""Start-up figures of butler-ls: spawn to initialize answer, idle memory, heavy imports.

Prints JSON. Runs the real server over stdio with a minimal hand-written LSP client so
the client's own start-up is not counted. Usage: python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("ctranslate2", "onnxruntime", "numpy", "faster_whisper")


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_message(stream) -> dict:
    length = 0
    while True:
        line = stream.readline()
        if not line:
            raise EOFError("server closed its output")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return json.loads(stream.read(length))


def read_response(stream, msg_id: int) -> dict:
    while True:
        message = read_message(stream)
        if message.get("id") == msg_id and "method" not in message:
            return message


def one_run(env: dict[str, str], root: Path) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "butler_ls"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {}},
    }
    proc.stdin.write(frame(init))
    proc.stdin.flush()
    read_response(proc.stdout, 1)
    initialize_ms = (time.perf_counter() - start) * 1000
    proc.stdin.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    proc.stdin.write(
        frame(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "workspace/executeCommand",
                "params": {"command": "butler.status", "arguments": []},
            }
        )
    )
    proc.stdin.flush()
    read_response(proc.stdout, 2)
    time.sleep(1.0)  # idle, as an editor leaves it
    rss_mb = _rss_mb(proc.pid)
    maps = Path(f"/proc/{proc.pid}/maps").read_text()
    heavy = [name for name in HEAVY if name in maps]
    proc.stdin.write(frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}))
    proc.stdin.flush()
    read_response(proc.stdout, 3)
    proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
    proc.stdin.flush()
    proc.wait(timeout=10)
    return {"initialize_ms": initialize_ms, "rss_mb": rss_mb, "heavy": heavy}


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
        home = Path(tmp)
        env = dict(
            os.environ,
            HOME=tmp,
            XDG_CONFIG_HOME=f"{tmp}/config",
            XDG_DATA_HOME=f"{tmp}/data",
            HF_HUB_OFFLINE="1",
        )
        root = home / "workspace"
        root.mkdir()
        one_run(env, root)  # warm the OS file cache, as any second start would be
        runs = [one_run(env, root) for _ in range(args.runs)]
    init = [r["initialize_ms"] for r in runs]
    rss = [r["rss_mb"] for r in runs]
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
                "targets": {"initialize_ms_median": 400, "idle_rss_mb": 60},
                "python": sys.version.split()[0],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
