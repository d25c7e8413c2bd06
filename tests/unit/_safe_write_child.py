"""Child process for the safe_write tests: writes, appends or holds a lock until killed.

Usage: python _safe_write_child.py write|append-forever|append|hold PATH [N]
"""

from __future__ import annotations

import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from butler_ls.util.safe_write import append_text, atomic_write, file_lock

MARKERS = string.ascii_letters


def main() -> None:
    """Run one mode until done or killed; 'ready' on stdout tells the parent it has started."""
    mode, path = sys.argv[1], sys.argv[2]
    number = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if mode == "hold":
        with file_lock(path):
            print("ready", flush=True)
            time.sleep(60)
        return
    print("ready", flush=True)
    if mode == "append":  # number is this child's id; 250 distinct lines
        for i in range(250):
            append_text(path, f"child{number}-line{i}\n")
        return
    for i in range(1, 1_000_000):
        marker = MARKERS[i % len(MARKERS)]
        if mode == "write":  # number is the payload size
            atomic_write(path, marker * number)
        else:  # append-forever: one full line of `number` markers per call
            append_text(path, marker * number + "\n")


if __name__ == "__main__":
    main()
