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


# --- model.window: a short piece encoded at its own length ----------------------------------


class FakeWhisper:
    """faster-whisper's WhisperModel as the engine uses it: ``transcribe`` encodes 30 s of
    features (as faster-whisper pads them) and decodes ``script(frames)``'s pieces."""

    def __init__(self, script):
        self.script = script
        self.model = type("Model", (), {"is_multilingual": False})()
        self.calls: list[tuple[int, dict]] = []

    def encode(self, features):
        return features.shape[-1]

    def transcribe(self, audio, **options):
        frames = self.encode(np.zeros((80, 3000), dtype=np.float32))
        self.calls.append((frames, options))
        return iter(self.script(frames)), None


def piece(text, start=0.0, end=1.0, ratio=1.2):
    return type("Piece", (), {"text": text, "start": start, "end": end, "compression_ratio": ratio})


def transcribe(whisper, seconds, window="fit", provisional=False):
    audio = np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)
    options = engine.Options(language="en", vad=False, window=window, provisional=provisional)
    return engine.ENGINE.transcribe(audio, whisper, options)


def test_a_short_piece_is_encoded_at_its_length_and_a_margin():
    whisper = FakeWhisper(lambda frames: [piece(" Go forward ten meters.", end=2.9)])
    result = transcribe(whisper, 4.0)
    assert result.text == "Go forward ten meters."
    [(frames, options)] = whisper.calls
    assert frames == 500 + 1 + engine.FIT_MARGIN_FRAMES  # 4 s, 1 s of silence, the margin
    assert options["temperature"] == 0.0 and options["max_new_tokens"] == 20 + 10 * 4


def test_a_fitted_piece_that_loops_is_decoded_again_in_full():
    def script(frames):
        if frames < 3000:
            return [piece(" Go forward. " * 8, end=3.9, ratio=3.1)]
        return [piece(" Go forward.", end=3.9)]

    whisper = FakeWhisper(script)
    assert transcribe(whisper, 4.0).text == "Go forward."
    assert [frames for frames, _ in whisper.calls] == [601, 3000]
    assert "temperature" not in whisper.calls[1][1]  # the full one keeps the fallback


def test_full_windows_and_long_and_short_pieces_are_encoded_in_30_seconds():
    whisper = FakeWhisper(lambda frames: [piece(" Hello.")])
    transcribe(whisper, 3.0, window="full")
    transcribe(whisper, engine.FIT_MAX_SECONDS + 1)
    transcribe(whisper, engine.FIT_MIN_SECONDS - 0.1)  # a voice command, likely
    assert [frames for frames, _ in whisper.calls] == [3000, 3000, 3000]


def test_provisional_text_fits_short_pieces_and_drops_a_loop_rather_than_redo_it():
    whisper = FakeWhisper(lambda frames: [piece(" Go forward.", end=0.9)])
    assert transcribe(whisper, 1.0, provisional=True).text == "Go forward."
    assert [frames for frames, _ in whisper.calls] == [200 + 1 + engine.FIT_MARGIN_FRAMES]
    looping = FakeWhisper(lambda frames: [piece(" Go forward. " * 8, end=0.9, ratio=3.1)])
    assert transcribe(looping, 1.0, provisional=True).text == ""
    assert len(looping.calls) == 1  # not decoded again in full


def test_what_counts_as_a_loop():
    looped = engine._looped
    assert not looped([piece("He might even have been made amiable himself.", end=5.0)], 3.3)
    assert looped([piece("Go forward. " * 10, ratio=3.0, end=2.7)], 2.8)  # repetitive
    assert looped([piece("one two three four five six seven eight", end=1.0)], 1.5)  # too many
    assert looped([piece("Unless to be.", end=5.1), piece("unless", 5.1, 28.8)], 5.3)  # past end
    assert not looped([piece("Unless to be.", end=3.0), piece("Rather.", 3.0, 5.4)], 5.3)
    assert looped([], 1.2) and looped([piece(" ")], 1.2)  # speech lost
    assert looped([piece("N'umègle, n'umègle, n'umègle")], 1.2)
    assert looped([piece("Wawwawwawwawwawwawwaw")], 1.2)
    assert looped([piece("Go forward 10 meters, go forward 10 meters,")], 2.8)
    assert looped([piece("new paragraph, new paragraph,")], 3.0)
    assert not looped([piece("He said no, and then no again.")], 2.0)
    assert not looped([piece("Very, very good. And the rather cold-hearted and rather")], 4.0)
