"""Where dictated audio comes from: the microphone, or a recording played as if it were one.

Both hand 16 kHz mono int16 chunks to ``on_audio`` on their own thread, then call ``on_end``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from butler_ls.plugin_api import SAMPLE_RATE, ButlerError

logger = logging.getLogger(__name__)

CHUNK_MS = 30
"""What one delivery holds, like one PortAudio block: the latency it adds is at most this."""

_CHUNK_BYTES = 2 * SAMPLE_RATE * CHUNK_MS // 1000


class Source:
    """A stream of audio for a dictation session."""

    kind = "microphone"
    description = ""

    def start(
        self,
        on_audio: Callable[[bytes], None],
        on_end: Callable[[str | None], None],
    ) -> None:
        """Begin delivering; ``on_end(error)`` comes once, after the last chunk."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop early; ``on_end`` still comes once (no error), after the last chunk."""
        raise NotImplementedError


class MicrophoneSource(Source):
    """The input device ``audio.device`` names, through PortAudio."""

    kind = "microphone"

    def __init__(self, device_spec: str | int | None) -> None:
        from . import audio_input

        self._audio_input = audio_input
        self.device = audio_input.find_input_device(device_spec)
        self.description = self.device.name
        self._microphone: Any = None
        self._ended = threading.Event()
        self._on_end: Callable[[str | None], None] | None = None

    def start(
        self, on_audio: Callable[[bytes], None], on_end: Callable[[str | None], None]
    ) -> None:
        """Open the device and start recording (raises AudioInputError if it cannot)."""
        self._on_end = on_end
        self._microphone = self._audio_input.Microphone(
            self.device,
            on_audio,
            lambda message: threading.Thread(
                target=self._fail, args=(message,), daemon=True
            ).start(),
        )

    def _fail(self, message: str) -> None:
        self._close()
        self._end(message)

    def _close(self) -> None:
        microphone, self._microphone = self._microphone, None
        if microphone is not None:
            microphone.close()

    def _end(self, error: str | None) -> None:
        if not self._ended.is_set():
            self._ended.set()
            if self._on_end is not None:
                self._on_end(error)

    def stop(self) -> None:
        """Close the device: its last audio is delivered before ``on_end``."""
        self._close()
        self._end(None)


class FileSource(Source):
    """A recording played in real time (or ``speed`` times faster) through the same path."""

    kind = "file"

    def __init__(self, path: Path, speed: float = 1.0) -> None:
        from butler_ls.plugin_api import AudioError
        from butler_ls.plugin_api import probe_audio as probe

        try:
            probe(path)
        except AudioError as exc:
            raise ButlerError(f"audioFile: {exc}") from None
        self.path = path
        self.description = path.name
        self.speed = speed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(
        self, on_audio: Callable[[bytes], None], on_end: Callable[[str | None], None]
    ) -> None:
        """Start playing on a thread of its own."""
        self._thread = threading.Thread(
            target=self._play, args=(on_audio, on_end), name="butler-audio-file", daemon=True
        )
        self._thread.start()

    def _play(
        self, on_audio: Callable[[bytes], None], on_end: Callable[[str | None], None]
    ) -> None:
        error = None
        try:
            self._deliver(on_audio)
        except Exception as exc:
            logger.exception("playing %s failed", self.path.name)
            error = f"playing {self.path.name} failed: {exc}"
        on_end(error)

    def _deliver(self, on_audio: Callable[[bytes], None]) -> None:
        import numpy

        from butler_ls.plugin_api import decode

        sent = 0  # bytes delivered
        began = time.monotonic()
        buffer = b""
        for chunk in decode(self.path, chunk_seconds=1.0):
            buffer += (numpy.clip(chunk, -1.0, 1.0) * 32767).astype("<i2").tobytes()
            while len(buffer) >= _CHUNK_BYTES:
                piece, buffer = buffer[:_CHUNK_BYTES], buffer[_CHUNK_BYTES:]
                if not self._pace(began, sent + len(piece)):
                    return
                on_audio(piece)
                sent += len(piece)
        if buffer and self._pace(began, sent + len(buffer)):
            on_audio(buffer)

    def _pace(self, began: float, upto_bytes: int) -> bool:
        """Wait until the audio up to ``upto_bytes`` "has been spoken"; False when stopped."""
        due = began + upto_bytes / 32000 / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            return not self._stop.wait(delay)
        return not self._stop.is_set()

    def stop(self) -> None:
        """Stop playing; the thread ends after the chunk in hand."""
        self._stop.set()
