"""The garbage collector rests while the server starts.

Start-up creates hundreds of thousands of long-lived objects (lsprotocol's classes, the
plugins' modules): the collections they trigger find little to free and cost about a fifth
of the time to the ``initialize`` answer. Once that answer is on its way (or after
``RESUME_SECONDS`` at the latest), one collection frees start-up's garbage, what remains
is frozen out of later collections, and collection resumes.
"""

from __future__ import annotations

import gc
import threading

RESUME_SECONDS = 30.0
"""Collection resumes by then even if no ``initialize`` request comes."""


def pause_collection() -> None:
    """Stop automatic collection until ``resume_collection`` (or ``RESUME_SECONDS``)."""
    gc.disable()
    timer = threading.Timer(RESUME_SECONDS, resume_collection)
    timer.daemon = True
    timer.start()


def resume_collection() -> None:
    """Collect start-up's garbage, freeze what remains, and collect automatically again."""
    if not gc.isenabled():
        gc.collect()
        gc.freeze()
        gc.enable()
        _return_freed_memory()


def _return_freed_memory() -> None:
    """Hand the heap that start-up's garbage leaves free back to the system (glibc only;
    about 3 MB of resident memory). Elsewhere nothing happens."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
