"""A stock SqliteHuey and one trivial task, for the Huey consumers in ``queue_latency.py``.

The consumer imports ``_queue_bench_tasks.huey``, built on the file named by
``BUTLER_BENCH_HUEY_DB``; the benchmark itself calls ``build`` once per database.
"""

from __future__ import annotations

import os
import time
from typing import Any

from huey import SqliteHuey

DB_VARIABLE = "BUTLER_BENCH_HUEY_DB"


def build(filename: str) -> tuple[SqliteHuey, Any]:
    """A SqliteHuey with Huey's defaults on ``filename`` and its ``bench.started`` task."""
    huey = SqliteHuey("bench", filename=filename)

    @huey.task(name="bench.started")
    def started() -> float:
        """The moment the task body starts, as the consumer's clock sees it."""
        return time.time()

    return huey, started


if os.environ.get(DB_VARIABLE):
    huey, started = build(os.environ[DB_VARIABLE])
