"""What a plugin's worker-side code sees of Butler: its ``jobs:`` handlers, its ``cli:``
tools and its settings classes (``schema:``) import from here, nothing else of ``butler_ls``.

Light on purpose: no LSP, no editor. The worker and ``butler-ls transcribe`` load this
without the language server's libraries; the audio decoder (PyAV, NumPy) and the job
types (Huey) load on first use. ``plugin_api`` offers all of these names too.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from butler_ls.util.audio_format import SAMPLE_RATE
from butler_ls.util.config import (
    Settings,
    between,
    expand_dotted,
    load_settings_file,
    section_of,
    setting,
)
from butler_ls.util.errors import ButlerError
from butler_ls.util.paths import Paths

if TYPE_CHECKING:
    from butler_ls.queue.tasks import JobContext, JobFailed
    from butler_ls.util.audio_decode import AudioError, decode, decode_all, decode_pcm
    from butler_ls.util.audio_decode import probe as probe_audio
    from butler_ls.util.word_errors import wer

LAZY = {
    "JobContext": ("butler_ls.queue.tasks", "JobContext"),
    "JobFailed": ("butler_ls.queue.tasks", "JobFailed"),
    "AudioError": ("butler_ls.util.audio_decode", "AudioError"),
    "decode": ("butler_ls.util.audio_decode", "decode"),
    "decode_all": ("butler_ls.util.audio_decode", "decode_all"),
    "decode_pcm": ("butler_ls.util.audio_decode", "decode_pcm"),
    "probe_audio": ("butler_ls.util.audio_decode", "probe"),
    "wer": ("butler_ls.util.word_errors", "wer"),
}
"""Names loaded on first use: ``name -> (module, attribute)``."""


def __getattr__(name: str) -> Any:
    try:
        module, attribute = LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), attribute)


__all__ = [
    "SAMPLE_RATE",
    "AudioError",
    "ButlerError",
    "JobContext",
    "JobFailed",
    "Paths",
    "Settings",
    "between",
    "decode",
    "decode_all",
    "decode_pcm",
    "expand_dotted",
    "load_settings_file",
    "probe_audio",
    "section_of",
    "setting",
    "wer",
]
