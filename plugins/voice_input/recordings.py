"""Recordings joined into one stream with pauses between them, as a person dictates.

For the demo, the tests and the benchmarks: ``audioFile`` plays the result as the microphone.
"""

from __future__ import annotations

import itertools
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from butler_ls.plugin_api import SAMPLE_RATE, decode_all


def join_recordings(paths: list[Path], out: Path, pause: float = 1.5, lead: float = 0.5) -> float:
    """Write ``paths`` in turn, each followed by ``pause`` s of silence, as a 16 kHz WAV.

    ``lead`` seconds of silence come first. Returns the length of the result in seconds.
    """
    pieces, seconds = _paused_stream(paths, [pause], [], lead)
    _write(out, pieces)
    return seconds


def join_with_pauses(
    paths: list[Path],
    out: Path,
    between: Sequence[float],
    inside: Sequence[float],
    lead: float = 0.5,
) -> list[tuple[float, Any]]:
    """Like ``join_recordings``, with a pause inside each recording too, as a person stops
    to think mid-sentence: in the longest gap between words of its middle 60% (none in a
    recording without one). The pauses cycle through ``inside`` and ``between`` (seconds;
    an empty ``inside`` adds none). Returns where each piece of speech starts in the
    stream, with its samples: ``(seconds, float32 samples)``."""
    pieces, _ = _paused_stream(paths, between, inside, lead)
    _write(out, pieces)
    at, speech = 0.0, []
    for samples, is_speech in pieces:
        if is_speech:
            speech.append((at, samples))
        at += len(samples) / SAMPLE_RATE
    return speech


def _paused_stream(
    paths: list[Path], between: Sequence[float], inside: Sequence[float], lead: float
) -> tuple[list[tuple[Any, bool]], float]:
    """The stream as ``(samples, is_speech)`` pieces, and its length in seconds."""
    import numpy

    def silence(seconds: float) -> Any:
        return numpy.zeros(int(SAMPLE_RATE * seconds), dtype=numpy.float32)

    pieces: list[tuple[Any, bool]] = [(silence(lead), False)]
    gaps, stops = itertools.cycle(between), itertools.cycle(inside) if inside else None
    for path in paths:
        samples = decode_all(path)
        cut = _word_gap(samples) if stops is not None else None
        if stops is not None and cut is not None:
            pieces += [(samples[:cut], True), (silence(next(stops)), False)]
            samples = samples[cut:]
        pieces += [(samples, True), (silence(next(gaps)), False)]
    return pieces, sum(len(samples) for samples, _ in pieces) / SAMPLE_RATE


def _word_gap(samples: Any) -> int | None:
    """The centre of the longest quiet stretch (10 ms frames 30 dB under the loudest) in the
    middle 60% of a recording: a gap between words, not a quiet sound inside one; None when
    there is none."""
    import numpy

    frame = SAMPLE_RATE // 100
    count = len(samples) // frame
    if count < 10:
        return None
    energy = numpy.square(samples[: count * frame].reshape(count, frame)).mean(axis=1)
    quiet = energy < energy.max() * 10 ** (-30 / 10)
    best, best_at, run = 0, None, 0
    for i in range(count // 5, 4 * count // 5):
        run = run + 1 if quiet[i] else 0
        if run > best:
            best, best_at = run, i - run // 2
    return None if best_at is None else best_at * frame + frame // 2


def _write(out: Path, pieces: list[tuple[Any, bool]]) -> None:
    import numpy

    joined = numpy.concatenate([samples for samples, _ in pieces])
    samples = (numpy.clip(joined, -1, 1) * 32767).astype("<i2")
    with wave.open(str(out), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(SAMPLE_RATE)
        file.writeframes(samples.tobytes())
