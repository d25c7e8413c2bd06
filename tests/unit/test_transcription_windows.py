"""Long audio is transcribed in windows cut at the quietest moment, never mid-word."""

import itertools

import numpy as np

from tests.helpers import load_plugin_module

engine = load_plugin_module("transcriber", "engine")
SAMPLE_RATE, windows = engine.SAMPLE_RATE, engine.windows


def test_windows_cover_the_audio_once_and_cut_in_quiet_places():
    rng = np.random.default_rng(1)
    seconds = 130
    audio = (rng.standard_normal(seconds * SAMPLE_RATE) * 0.3).astype(np.float32)
    for quiet in (47.0, 95.5):  # a pause inside each window's search zone
        start = int(quiet * SAMPLE_RATE)
        audio[start : start + SAMPLE_RATE // 2] *= 0.001
    chunks = [audio[i : i + 30 * SAMPLE_RATE] for i in range(0, len(audio), 30 * SAMPLE_RATE)]
    parts = list(windows(chunks, window_seconds=50, search_seconds=10))
    joined = np.concatenate([part for _, part in parts])
    assert np.array_equal(joined, audio)
    offsets = [offset for offset, _ in parts]
    assert offsets[0] == 0.0
    assert 47.0 <= offsets[1] <= 47.5  # in the pause, not at the 50 s limit
    assert all(len(part) <= 50 * SAMPLE_RATE for _, part in parts)
    for (offset, part), (next_offset, _) in itertools.pairwise(parts):
        assert abs(offset + len(part) / SAMPLE_RATE - next_offset) < 1e-9


def test_short_audio_is_one_window():
    audio = np.zeros(SAMPLE_RATE * 3, dtype=np.float32)
    assert [(o, len(a)) for o, a in windows([audio])] == [(0.0, len(audio))]
    assert list(windows([])) == []
