"""The ``voice_input`` plugin: microphone capture for dictation.

Capture is not built yet; the plugin says so through ``status.audio`` and ``voice.capture``.
"""

from __future__ import annotations

from typing import Any

from butler_ls.errors import ButlerError
from butler_ls.plugin_api import Plugin, PluginContext

NOT_BUILT = "microphone capture is not built in this version of Butler"


class VoiceCapture:
    """The ``voice.capture`` capability; refuses honestly until capture exists."""

    available = False
    reason = NOT_BUILT

    def start(self, **_: Any) -> None:
        """Start capturing (not available yet)."""
        raise ButlerError(f"{NOT_BUILT}; dictation will arrive in a later version")


class VoiceInputPlugin(Plugin):
    """Registers ``voice.capture`` and the audio part of ``butler.status``."""

    def activate(self, ctx: PluginContext) -> None:
        """Offer the capability and the status section."""
        capture = VoiceCapture()
        ctx.provide("voice.capture", capture)
        ctx.provide(
            "status.audio", lambda: {"available": capture.available, "reason": capture.reason}
        )
