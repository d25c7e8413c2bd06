"""The worker side of the example: counts the words of a file in Butler's worker process.

Declared under ``jobs:`` in plugin.yaml; the worker loads it like the built-in handlers,
throttles it like them (it is submitted as ``batch`` work), and streams its progress.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from butler_ls.job_api import JobFailed

from .counting import count_words

CHUNK_LINES = 2000
"""Lines counted between two progress reports (and cancel checks)."""


def count_file(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Count the words of ``payload["path"]``; reports ``{lines}`` as it goes."""
    path = Path(payload["path"])
    words = lines = 0
    pending: list[str] = []
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                pending.append(line)
                if len(pending) == CHUNK_LINES:
                    words, lines = _add(ctx, pending, words, lines, payload)
                    pending = []
    except OSError as exc:
        raise JobFailed(f"cannot read {path}: {exc.strerror or exc}") from None
    words, lines = _add(ctx, pending, words, lines, payload)
    return {"path": str(path), "words": words, "lines": lines, "worker": os.getpid()}


def _add(ctx: Any, chunk: list[str], words: int, lines: int, payload: dict[str, Any]):
    if ctx.cancelled():
        raise JobFailed("cancelled")
    count_numbers = bool(payload.get("countNumbers", True))
    words += count_words("".join(chunk), count_numbers, int(payload.get("minLength", 1)))
    lines += len(chunk)
    ctx.partial({"lines": lines})
    return words, lines
