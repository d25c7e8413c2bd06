"""Recordings joined into one stream with pauses between them, as a person dictates.

For the demo, the tests and the benchmarks: ``audioFile`` plays the result as the microphone.
"""

from __future__ import annotations

import wave
from pathlib import Path

from butler_ls.plugin_api import SAMPLE_RATE, decode_all


def join_recordings(paths: list[Path], out: Path, pause: float = 1.5, lead: float = 0.5) -> float:
    """Write ``paths`` in turn, each followed by ``pause`` s of silence, as a 16 kHz WAV.

    ``lead`` seconds of silence come first. Returns the length of the result in seconds.
    """
    import numpy

    gap = numpy.zeros(int(SAMPLE_RATE * pause), dtype=numpy.float32)
    parts = [numpy.zeros(int(SAMPLE_RATE * lead), dtype=numpy.float32)]
    for path in paths:
        parts += [decode_all(path), gap]
    samples = (numpy.clip(numpy.concatenate(parts), -1, 1) * 32767).astype("<i2")
    with wave.open(str(out), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes(samples.tobytes())
    return len(samples) / SAMPLE_RATE
