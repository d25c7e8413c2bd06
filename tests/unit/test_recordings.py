"""Recordings joined with pauses (voice_input/recordings.py), for the e2e tests and benchmarks."""

from __future__ import annotations

import wave

import numpy as np

from tests.helpers import load_plugin_module

recordings = load_plugin_module("voice_input", "recordings")
RATE = 16000


def write(path, samples) -> None:
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes((samples * 32767).astype("<i2").tobytes())


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_a_pause_goes_into_the_gap_between_words_and_nothing_is_lost(tmp_path):
    # "Words" 1.0 s, a short dip (20 ms, inside a word), 0.6 s, a real gap (120 ms), 1.0 s.
    dip, gap = np.zeros(int(0.02 * RATE), np.float32), np.zeros(int(0.12 * RATE), np.float32)
    first = np.concatenate([tone(1.0), dip, tone(0.6), gap, tone(1.0)])
    write(tmp_path / "a.wav", first)
    write(tmp_path / "b.wav", tone(1.0))
    out = tmp_path / "stream.wav"
    speech = recordings.join_with_pauses(
        [tmp_path / "a.wav", tmp_path / "b.wav"], out, [0.7], [0.4], lead=0.5
    )
    cut = len(speech[0][1]) / RATE
    assert 1.62 < cut < 1.74  # in the 120 ms gap, not the 20 ms dip
    starts = [round(at, 3) for at, _ in speech]
    rest = len(first) / RATE - cut
    assert starts == [0.5, round(0.5 + cut + 0.4, 3), round(0.5 + cut + 0.4 + rest + 0.7, 3)]
    assert sum(len(samples) for _, samples in speech) == len(first) + RATE  # all the speech
    with wave.open(str(out), "rb") as file:  # lead, a, the inside pause, b, a pause after each
        assert (
            file.getnframes()
            == int(0.5 * RATE) + len(first) + int(0.4 * RATE) + RATE + int(0.7 * RATE) * 2
        )


def test_join_recordings_is_the_files_with_one_pause_after_each(tmp_path):
    write(tmp_path / "a.wav", tone(1.0))
    seconds = recordings.join_recordings([tmp_path / "a.wav"] * 2, tmp_path / "s.wav", 0.5, 0.25)
    assert seconds == 0.25 + 2 * (1.0 + 0.5)
