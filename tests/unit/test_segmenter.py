"""Unit tests for voice_input's segmenter on real recorded speech.

Pauses, forced cuts in long speech, clicks and silence, chunking, pre-roll, the meter, CPU.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
import wave
from array import array
from pathlib import Path

import attrs
import numpy
import pytest

from tests.helpers import load_plugin_module

segmenter = load_plugin_module("voice_input", "segmenter")
Segmenter, SegmenterSettings, Utterance = (
    segmenter.Segmenter,
    segmenter.SegmenterSettings,
    segmenter.Utterance,
)

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech"
RATE = 16000
SETTINGS = SegmenterSettings()
PRE_ROLL = SETTINGS.pre_roll_ms / 1000
# Recordings with quiet lead-ins (arctic_a0007 opens with noise that WebRTC calls voiced).
PAUSED = [
    "ps_librivox_0880",
    "ps_librivox_0890",
    "ps_goforward",
    "ps_librivox_0920",
    "ps_digits_2934z",
]


def read_wav(name: str) -> bytes:
    """The samples of a test recording, checked to be 16 kHz mono int16."""
    with wave.open(str(SPEECH / f"{name}.wav"), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (RATE, 1, 2)
        return wav.readframes(wav.getnframes())


def level(pcm: bytes) -> float:
    """RMS level of ``pcm`` in dBFS (-120 for digital silence)."""
    samples = numpy.frombuffer(pcm, "<i2").astype(numpy.float64)
    power = float(numpy.mean(samples**2)) if samples.size else 0.0
    return 10 * math.log10(power / 32768**2) if power > 0 else -120.0


def frames(pcm: bytes) -> list[bytes]:
    return [pcm[at : at + 960] for at in range(0, len(pcm) - 959, 960)]


def speech_extent(pcm: bytes) -> tuple[float, float]:
    """Seconds of the first and last loud 30 ms frames: the ground truth, by energy alone."""
    loud = [i for i, frame in enumerate(frames(pcm)) if level(frame) > -35]
    return loud[0] * 0.03, (loud[-1] + 1) * 0.03


def trimmed(name: str) -> bytes:
    """A recording without its leading and trailing quiet, so that pieces join seamlessly."""
    pcm = read_wav(name)
    onset, offset = speech_extent(pcm)
    return pcm[round(onset * RATE) * 2 : round(offset * RATE) * 2]


def with_noise(pcm: bytes, seed: int = 1, sigma: float = 30.0) -> bytes:
    """Add low white noise (about -60 dBFS): a quiet room, not digital silence."""
    samples = numpy.frombuffer(pcm, "<i2").astype(numpy.float64)
    samples += numpy.random.default_rng(seed).normal(0.0, sigma, samples.size)
    return numpy.clip(samples, -32768, 32767).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return bytes(2 * round(seconds * RATE))


def paused_stream(gap: float = 1.0) -> tuple[bytes, list[tuple[float, float]]]:
    """The PAUSED recordings with ``gap`` seconds between them, and where their speech lies."""
    parts, truth, at = [], [], 0.0
    for name in PAUSED:
        pcm = read_wav(name)
        onset, offset = speech_extent(pcm)
        truth.append((at + onset, at + offset))
        parts += [pcm, silence(gap)]
        at += len(pcm) / 2 / RATE + gap
    return with_noise(b"".join(parts)), truth


def continuous_stream(seconds: float) -> bytes:
    """Trimmed recordings back to back, with no pause a listener would notice."""
    names = ["ps_librivox_0870", "ps_librivox_0880", "ps_librivox_0890", "ps_librivox_0920"]
    pcm = b"".join(trimmed(name) for name in names)
    while len(pcm) < seconds * RATE * 2:
        pcm += pcm
    return with_noise(pcm[: round(seconds * RATE) * 2])


def segment(pcm: bytes, settings: SegmenterSettings = SETTINGS) -> list[Utterance]:
    segmenter = Segmenter(settings)
    return segmenter.feed(pcm) + segmenter.flush()


def assert_cut_from(stream: bytes, utterances: list[Utterance]) -> None:
    """Each utterance's audio is exactly the stream between its start and its end."""
    for utt in utterances:
        first, last = round(utt.start * RATE), round(utt.end * RATE)
        assert utt.pcm == stream[2 * first : 2 * last], utt
        assert utt.start <= utt.spoken_end <= utt.end
    assert [utt.index for utt in utterances] == list(range(len(utterances)))
    for before, after in itertools.pairwise(utterances):
        assert before.end <= after.start  # no audio twice


# --- cutting at pauses ----------------------------------------------------------------------


def test_one_utterance_per_recording_between_pauses():
    stream, _ = paused_stream()
    utterances = segment(stream)
    assert len(utterances) == len(PAUSED)
    assert not any(utt.forced for utt in utterances)
    assert_cut_from(stream, utterances)


def test_boundaries_fall_at_the_true_pauses():
    stream, truth = paused_stream()
    utterances = segment(stream)
    for utt, (onset, offset) in zip(utterances, truth, strict=True):
        # Start is speech onset less the pre-roll; spoken_end is where the energy falls.
        assert abs(utt.start - max(0.0, onset - PRE_ROLL)) <= 0.3, (utt, onset)
        assert abs(utt.spoken_end - offset) <= 0.3, (utt, offset)
    for k in range(len(truth) - 1):
        # Every cut lies in the pause: no piece reaches into its neighbour's speech.
        assert utterances[k].end <= truth[k + 1][0]
        assert utterances[k + 1].start >= truth[k][1]


def test_hangover_follows_the_spoken_end():
    utterances = segment(paused_stream()[0])
    for utt in utterances:
        hangover = utt.end - utt.spoken_end
        assert SETTINGS.silence_ms / 1000 <= hangover <= SETTINGS.silence_ms / 1000 + 0.03


@pytest.mark.parametrize(("gap", "count"), [(0.2, 1), (0.6, 3)])
def test_only_pauses_longer_than_the_hangover_cut(gap, count):
    names = ["ps_librivox_0880", "ps_goforward", "ps_digits_2934z"]
    stream = with_noise(silence(gap).join(trimmed(name) for name in names) + silence(1.0))
    utterances = segment(stream)
    assert len(utterances) == count
    assert_cut_from(stream, utterances)


@pytest.mark.parametrize(
    "name", ["digital silence", "room noise", "a 100 ms click", "a 100 ms tone", "clicks"]
)
def test_no_utterance_from_silence_or_clicks(name):
    quiet = silence(5.0) if name == "digital silence" else with_noise(silence(5.0), seed=7)
    samples = array("h", quiet)
    starts = [1.0, 2.0, 3.0, 4.0] if name == "clicks" else [2.0]
    for start in starts:
        for i in range(1600):
            t = i / RATE
            if name == "a 100 ms tone":
                value = 12000 * math.sin(2 * math.pi * 700 * t)
            else:  # a struck key: a loud, ringing burst that dies away within 100 ms
                value = 30000 * math.exp(-t * 60) * math.sin(2 * math.pi * 2000 * t)
            j = round(start * RATE) + i
            samples[j] = max(-32768, min(32767, samples[j] + round(value)))
    segmenter = Segmenter()
    assert segmenter.feed(samples.tobytes()) == []
    assert not segmenter.in_speech
    assert segmenter.pending_pcm() == b""
    assert segmenter.flush() == []


# --- long speech ----------------------------------------------------------------------------


def test_continuous_speech_is_cut_in_quiet_frames():
    stream = continuous_stream(30.0)
    utterances = segment(stream)
    assert_cut_from(stream, utterances)
    assert len(utterances) >= 3
    assert all(utt.duration <= SETTINGS.max_utterance_s + 1e-9 for utt in utterances)
    forced = [utt for utt in utterances if utt.forced]
    assert len(forced) >= 2
    typical = statistics.median(level(frame) for frame in frames(stream))
    for utt, following in itertools.pairwise(utterances):
        if not utt.forced:
            continue
        assert following.start == utt.end  # a forced cut loses nothing
        # The cut lies in the last third, inside a 30 ms frame far quieter than speech.
        assert utt.duration >= SETTINGS.max_utterance_s * 2 / 3 - 0.03
        cut = round(utt.end * RATE)
        around = stream[2 * (cut - 240) : 2 * (cut + 240)]
        assert level(around) <= typical - 10, (utt, level(around), typical)
    assert sum(utt.duration for utt in utterances) == pytest.approx(30.0, abs=0.5)


def test_a_cut_avoids_voiced_frames_when_it_can():
    # Speech with one short pause in the last third: the cut goes there, not into a word.
    speech = continuous_stream(10.0)
    stream = speech + with_noise(silence(0.25), seed=3) + continuous_stream(6.0)
    first = segment(stream)[0]
    assert first.forced
    assert 10.0 < first.end < 10.25 + 0.03


# --- streaming ------------------------------------------------------------------------------


def test_chunk_sizes_do_not_change_the_cuts():
    stream = paused_stream()[0] + continuous_stream(26.0)
    whole = segment(stream)
    assert any(utt.forced for utt in whole)
    rng = random.Random(5)
    segmenter = Segmenter()
    pieces: list[Utterance] = []
    at = 0
    while at < len(stream):
        # Log-uniform from 1 byte to 1 s: odd sizes and half samples are common.
        size = int(math.exp(rng.uniform(0, math.log(2 * RATE))))
        pieces += segmenter.feed(stream[at : at + size])
        at += size
    pieces += segmenter.flush()
    assert pieces == whole


def test_flush_returns_the_speech_in_progress():
    stream = with_noise(silence(1.0) + trimmed("ps_librivox_0890") + b"\x01\x00" * 100)
    segmenter = Segmenter()
    assert segmenter.feed(stream) == []
    assert segmenter.in_speech
    pending = segmenter.pending_pcm()
    [tail] = segmenter.flush()
    assert tail.pcm.startswith(pending)
    assert tail.end == pytest.approx(len(stream) / 2 / RATE)  # the part-frame is kept too
    assert not tail.forced
    assert not segmenter.in_speech
    assert segmenter.flush() == []
    # After a flush the segmenter is ready for a new stream: times and indices start again.
    assert segmenter.feed(stream) + segmenter.flush() == [tail]


def test_pending_pcm_grows_into_the_utterance():
    stream = paused_stream()[0]
    segmenter = Segmenter()
    seen_speech = False
    for at in range(0, len(stream), 3200):
        before = segmenter.pending_pcm()
        done = segmenter.feed(stream[at : at + 3200])
        seen_speech = seen_speech or segmenter.in_speech
        for utt in done:
            assert utt.pcm.startswith(before)
        if segmenter.in_speech and not done:
            assert segmenter.pending_pcm().startswith(before)
    assert seen_speech


def test_pre_roll_is_included():
    speech = trimmed("ps_librivox_0920")
    stream = with_noise(silence(1.0) + speech + silence(1.0))
    [utt] = segment(stream)
    assert utt.start == pytest.approx(1.0 - PRE_ROLL, abs=0.1)
    assert level(utt.pcm[: round(PRE_ROLL * RATE) * 2 - 320]) < -50  # room noise before speech
    [bare] = segment(stream, attrs.evolve(SETTINGS, pre_roll_ms=0))
    assert bare.start == pytest.approx(utt.start + PRE_ROLL, abs=0.001)
    assert utt.pcm.endswith(bare.pcm)


def test_level_meter():
    segmenter = Segmenter()
    assert segmenter.level_dbfs() == -96.0
    segmenter.feed(silence(0.5))
    assert segmenter.level_dbfs() == -96.0
    speech = trimmed("ps_librivox_0880")
    segmenter.feed(speech[: len(speech) // 2])
    assert segmenter.level_dbfs() > -40
    segmenter.feed(b"\x00")  # half a sample must not shift the meter's samples
    assert segmenter.level_dbfs() > -40
    segmenter.feed(b"\x00" + silence(0.1))
    assert segmenter.level_dbfs() == -96.0  # only the last 100 ms counts


def test_settings_name_the_bad_field():
    with pytest.raises(ValueError, match="aggressiveness"):
        SegmenterSettings(aggressiveness=5)
    with pytest.raises(ValueError, match="silence_ms"):
        SegmenterSettings(silence_ms=0)
    with pytest.raises(ValueError, match="pre_roll_ms"):
        SegmenterSettings(pre_roll_ms=5000, max_utterance_s=6.0)


# --- semantic end of utterance: end_at ------------------------------------------------------


def feed_until_pause(segmenter, pcm: bytes, silence_frames: int) -> tuple[list, int]:
    """Feed ``pcm`` frame by frame until the utterance in progress has ``silence_frames`` of
    trailing silence; returns what was completed and how many bytes were fed."""
    done: list = []
    for at in range(0, len(pcm), 960):
        done += segmenter.feed(pcm[at : at + 960])
        if segmenter.in_speech and segmenter.trailing_silence >= silence_frames * 0.03:
            return done, at + 960
    raise AssertionError("no pause")


def test_a_finished_sentence_ends_at_the_next_quiet_frame_not_after_the_whole_pause():
    stream = with_noise(read_wav("ps_goforward") + silence(1.0))
    seg = Segmenter(SETTINGS)
    done, fed = feed_until_pause(seg, stream, 5)  # 150 ms into the pause
    assert done == []
    seg.end_at(seg.voiced_until)
    done = seg.feed(stream[fed : fed + 960])
    [utterance] = done
    assert utterance.early and seg.early_ends == 1
    assert utterance.end - utterance.spoken_end < SETTINGS.silence_ms / 1000  # before the pause
    rest = seg.feed(stream[fed + 960 :]) + seg.flush()
    assert rest == [] and seg.resumed_after_early == 0


def test_a_stale_end_is_ignored_and_the_pause_decides():
    stream = with_noise(read_wav("ps_goforward") + silence(1.0))
    seg = Segmenter(SETTINGS)
    _, fed = feed_until_pause(seg, stream, 5)
    seg.end_at(seg.voiced_until - 0.03)  # read before more speech came: not this utterance
    [utterance] = seg.feed(stream[fed:]) + seg.flush()
    assert not utterance.early and seg.early_ends == 0
    assert utterance.end - utterance.spoken_end >= SETTINGS.silence_ms / 1000


def test_speech_resuming_after_an_early_end_is_the_next_utterance_and_counted():
    # A short pause (0.3 s < the 0.4 s hangover) inside what the pause alone keeps as one.
    first, second = trimmed("ps_goforward"), trimmed("ps_librivox_0880")
    stream = with_noise(silence(0.5) + first + silence(0.3) + second + silence(1.0))
    assert len(segment(stream)) == 1  # by the pause alone
    seg = Segmenter(SETTINGS)
    done, fed = feed_until_pause(seg, stream, 5)
    seg.end_at(seg.voiced_until)
    utterances = done + seg.feed(stream[fed:]) + seg.flush()
    assert [u.early for u in utterances] == [True, False]
    assert seg.early_ends == 1 and seg.resumed_after_early == 1
    assert_cut_from(stream, utterances)  # nothing lost, nothing twice
    assert utterances[0].end <= utterances[1].start
    spoken = utterances[1].spoken_end - utterances[1].start
    assert spoken > len(second) / 2 / RATE * 0.9  # the second sentence whole
