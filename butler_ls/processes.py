"""Small process helpers shared by the worker, its supervisor, the queue and the spool.

Whether a process still exists, asked without signalling it.
"""

from __future__ import annotations

import os
from typing import Any


def pid_alive(pid: Any) -> bool:
    """True when a process with this id exists (it may belong to another user)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if os.name == "nt":  # os.kill would terminate the process there
        import psutil

        return psutil.pid_exists(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
