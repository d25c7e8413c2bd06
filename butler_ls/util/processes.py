"""Small process helpers shared by the worker, its supervisor, the queue and the spool.

How Butler starts its own Python children safely; whether a process still exists.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any


def python_command(module: str, *args: str) -> list[str]:
    """The command that runs ``python -m module args`` without the working directory on
    ``sys.path`` (``-P``): a ``butler_ls/`` folder in an opened workspace is never imported."""
    return [sys.executable, "-P", "-m", module, *args]


def neutral_cwd(preferred: Path | None = None) -> str:
    """A working directory for children that is not the user's workspace: Butler's own
    (private) data folder when given and present, else the root folder."""
    if preferred is not None and preferred.is_dir():
        return str(preferred)
    return os.path.abspath(os.sep)


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
