"""Cuts a live 16 kHz mono stream into utterances at pauses, with WebRTC's voice detector.

Light enough for the language server's capture path: the small C extension and plain Python.
"""

from __future__ import annotations

import math
import operator
import sys
from array import array
from collections import deque

import attrs
import webrtcvad

from butler_ls.plugin_api import SAMPLE_RATE

__all__ = ["FRAME_MS", "SAMPLE_RATE", "Segmenter", "SegmenterSettings", "Utterance"]

FRAME_MS = 30
"""Length of the frames the voice detector judges: the longest WebRTC accepts, the cheapest."""

_FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
_FRAME_BYTES = 2 * _FRAME_SAMPLES
_METER_BYTES = 2 * SAMPLE_RATE // 10  # 100 ms
_FLOOR_DBFS = -96.0  # the dynamic range of 16-bit audio; also what digital silence reads
_FULL_SCALE_SQUARED = 32768.0**2


@attrs.frozen
class SegmenterSettings:
    """Where the segmenter cuts; silence and minimum speech count whole 30 ms frames."""

    silence_ms: int = attrs.field(default=400, validator=attrs.validators.ge(FRAME_MS))
    """A pause this long ends an utterance (the hangover); rounded up to whole frames."""

    min_speech_ms: int = attrs.field(default=250, validator=attrs.validators.ge(0))
    """Bursts with less voiced audio than this are noise (a click, a cough) and are dropped."""

    max_utterance_s: float = attrs.field(default=12.0, validator=attrs.validators.ge(1.0))
    """Longer speech is cut at the quietest frame of its last third, preferring unvoiced ones."""

    pre_roll_ms: int = attrs.field(default=200, validator=attrs.validators.ge(0))
    """Audio kept before the first voiced frame, so that a soft first syllable stays whole."""

    aggressiveness: int = attrs.field(default=2, validator=attrs.validators.in_(range(4)))
    """WebRTC's mode, 0 to 3: higher calls less audio speech (better in noise, may clip words)."""

    def __attrs_post_init__(self) -> None:
        # A pre-roll reaching into the last third would leave a forced cut nowhere to go.
        if self.pre_roll_ms > self.max_utterance_s * 1000 / 3:
            raise ValueError(
                f"'pre_roll_ms' ({self.pre_roll_ms}) must be at most a third of "
                f"'max_utterance_s' ({self.max_utterance_s} s); shorten the pre-roll"
            )


@attrs.frozen
class Utterance:
    """One stretch of speech cut from the stream, ready to be transcribed."""

    index: int
    """Position in the stream: 0, 1, 2... in order."""

    start: float
    """Seconds from the start of the stream to the first sample (pre-roll included)."""

    end: float
    """Seconds from the start of the stream to just after the last sample (hangover included)."""

    pcm: bytes = attrs.field(repr=lambda pcm: f"<{len(pcm)} bytes>")
    """The samples from ``start`` to ``end``: int16 little-endian, mono, 16 kHz."""

    forced: bool
    """True when the utterance was cut for being too long rather than at a pause."""

    spoken_end: float
    """Stream time when speech actually ended, before the hangover; for latency figures."""

    early: bool = False
    """Ended by ``Segmenter.end_at`` (a finished sentence) before the whole pause."""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


class Segmenter:
    """Turns chunks of a live stream into utterances; one thread feeds it."""

    def __init__(self, settings: SegmenterSettings | None = None) -> None:
        self.settings = settings if settings is not None else SegmenterSettings()
        self._hangover_frames = math.ceil(self.settings.silence_ms / FRAME_MS)
        self._min_voiced_frames = max(1, math.ceil(self.settings.min_speech_ms / FRAME_MS))
        self._max_samples = round(self.settings.max_utterance_s * SAMPLE_RATE)
        self._pre_roll_bytes = 2 * (self.settings.pre_roll_ms * SAMPLE_RATE // 1000)
        self.early_ends = 0
        """Utterances ended by ``end_at`` before the hangover was over."""
        self.resumed_after_early = 0
        """Of those, how many were followed by speech within what would have been their
        hangover: the pause alone would have kept both in one utterance."""
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._vad = webrtcvad.Vad(self.settings.aggressiveness)
        self._index = 0
        self._pos = 0  # samples already judged: the start of the next frame
        self._partial = b""  # less than a frame, waiting for the next feed()
        self._fed_bytes = 0
        self._recent = b""  # the stream's last 100 ms (and one byte), for the meter
        # Unvoiced frames since the last utterance; the next one's pre-roll comes from here.
        self._ring: deque[bytes] = deque(maxlen=math.ceil(self.settings.pre_roll_ms / FRAME_MS))
        self._end_at: float | None = None  # set by end_at (another thread), read by _judge
        self._watch = 0  # frames left of an early-ended utterance's hangover
        self._clear_utterance()

    def _clear_utterance(self) -> None:
        self._frames: list[bytes] = []  # the utterance in progress; empty when there is none
        self._voiced: list[bool] = []
        self._start = 0  # stream sample of its first byte
        self._samples = 0
        self._voiced_count = 0
        self._silence_run = 0
        self._last_voiced_end = 0  # stream sample just after its last voiced frame
        self._confirmed = False  # enough voiced frames to be speech, not a click

    # --- the public surface ----------------------------------------------------------------

    @property
    def in_speech(self) -> bool:
        """True while an utterance is in progress (enough speech heard, pause not yet over)."""
        return self._confirmed

    @property
    def trailing_silence(self) -> float:
        """Seconds of unvoiced audio at the end of the utterance in progress (0 outside one)."""
        return self._silence_run * FRAME_MS / 1000 if self._frames else 0.0

    @property
    def voiced_until(self) -> float:
        """Stream seconds just after the last voiced frame of the utterance in progress.

        An utterance emitted later with ``spoken_end`` equal to this holds no more speech
        than the audio ``pending_pcm`` returned at the time (read this first, then that).
        """
        return self._last_voiced_end / SAMPLE_RATE if self._frames else 0.0

    @property
    def utterance_start(self) -> float:
        """Stream seconds where the utterance in progress starts (pre-roll included)."""
        return self._start / SAMPLE_RATE if self._frames else 0.0

    @property
    def position(self) -> float:
        """Seconds of audio fed since the stream began."""
        return self._fed_bytes // 2 / SAMPLE_RATE

    def feed(self, pcm: bytes | bytearray | memoryview) -> list[Utterance]:
        """Take any length of int16 LE mono 16 kHz bytes; return the utterances they complete."""
        pcm = bytes(pcm)
        completed: list[Utterance] = []
        if not pcm:
            return completed
        self._fed_bytes += len(pcm)
        self._recent = (self._recent + pcm[-_METER_BYTES - 1 :])[-_METER_BYTES - 1 :]
        data = self._partial + pcm if self._partial else pcm
        whole = len(data) - len(data) % _FRAME_BYTES
        for offset in range(0, whole, _FRAME_BYTES):
            self._judge(data[offset : offset + _FRAME_BYTES], completed)
        self._partial = data[whole:]
        return completed

    def end_at(self, voiced_until: float) -> None:
        """End the utterance in progress at the next unvoiced frame, without waiting for the
        rest of the hangover, if its speech still ends at ``voiced_until`` (``voiced_until``
        as read before): its text is known to be finished. Safe from another thread."""
        self._end_at = voiced_until

    def flush(self) -> list[Utterance]:
        """End the stream: return the utterance in progress if it is speech; then start anew."""
        completed: list[Utterance] = []
        if self._frames:
            # The last part-frame is too short to judge; it belongs to the utterance's tail.
            tail = self._partial[: len(self._partial) // 2 * 2]
            if tail and self._samples + len(tail) // 2 <= self._max_samples:
                self._append(tail, voiced=False)
            self._finish(completed)
        self._reset_stream()
        return completed

    def level_dbfs(self) -> float:
        """RMS level of the last 100 ms in dBFS, for a meter; -96.0 for silence or no audio."""
        recent = self._recent[:-1] if self._fed_bytes % 2 else self._recent
        recent = recent[-_METER_BYTES:]
        if not recent:
            return _FLOOR_DBFS
        power = _mean_square(recent)
        if power <= 0:
            return _FLOOR_DBFS
        return max(_FLOOR_DBFS, 10 * math.log10(power / _FULL_SCALE_SQUARED))

    def pending_pcm(self) -> bytes:
        """The audio so far of the utterance in progress (for live partial text); else empty."""
        return b"".join(self._frames) if self._confirmed else b""

    # --- one frame at a time ---------------------------------------------------------------

    def _judge(self, frame: bytes, completed: list[Utterance]) -> None:
        voiced = self._vad.is_speech(frame, SAMPLE_RATE)
        if self._watch:
            self._watch -= 1
            if voiced:
                self.resumed_after_early += 1
                self._watch = 0
        if self._frames and self._samples + _FRAME_SAMPLES > self._max_samples:
            self._cut_long(completed)
        frame_start = self._pos
        self._pos += _FRAME_SAMPLES
        if not self._frames:
            if not voiced:
                self._ring.append(frame)
                return
            self._begin(frame_start)
        self._append(frame, voiced)
        if voiced:
            return
        if self._silence_run >= self._hangover_frames:
            self._finish(completed)
        elif self._end_at is not None and self._confirmed:
            end_at, self._end_at = self._end_at, None
            if abs(end_at - self._last_voiced_end / SAMPLE_RATE) < 1e-6:
                self.early_ends += 1
                self._watch = self._hangover_frames - self._silence_run
                self._finish(completed, early=True)

    def _begin(self, frame_start: int) -> None:
        # The ring holds only audio after the previous utterance, so pieces never overlap.
        pre_roll = b"".join(self._ring)[-self._pre_roll_bytes :] if self._pre_roll_bytes else b""
        self._ring.clear()
        self._start = frame_start - len(pre_roll) // 2
        if pre_roll:
            self._append(pre_roll, voiced=False)

    def _append(self, frame: bytes, voiced: bool) -> None:
        self._frames.append(frame)
        self._voiced.append(voiced)
        self._samples += len(frame) // 2
        if voiced:
            self._voiced_count += 1
            self._silence_run = 0
            self._last_voiced_end = self._start + self._samples
            if self._voiced_count >= self._min_voiced_frames:
                self._confirmed = True
        else:
            self._silence_run += 1

    def _finish(self, completed: list[Utterance], early: bool = False) -> None:
        if self._confirmed:
            pcm = b"".join(self._frames)
            completed.append(self._emit(pcm, False, self._last_voiced_end, early))
            self._ring.clear()
        else:
            # Noise, not speech: its audio may still serve as the next utterance's pre-roll.
            self._ring.extend(self._frames)
        self._clear_utterance()

    def _emit(self, pcm: bytes, forced: bool, spoken_end: int, early: bool = False) -> Utterance:
        utterance = Utterance(
            index=self._index,
            start=self._start / SAMPLE_RATE,
            end=(self._start + len(pcm) // 2) / SAMPLE_RATE,
            pcm=pcm,
            forced=forced,
            spoken_end=spoken_end / SAMPLE_RATE,
            early=early,
        )
        self._index += 1
        return utterance

    def _cut_long(self, completed: list[Utterance]) -> None:
        """Split the utterance in progress, which is full, inside its quietest late frame."""
        offsets = []
        offset = 0
        for frame in self._frames:
            offsets.append(offset)
            offset += len(frame) // 2
        late = [i for i, at in enumerate(offsets) if at >= self._samples * 2 // 3]
        # A cut inside a voiced frame splits a sound in two; any unvoiced frame is better.
        candidates = [i for i in late if not self._voiced[i]] or late
        cut = min(candidates, key=lambda i: _mean_square(self._frames[i]))
        # Cut in the middle of the quiet frame, so both pieces keep some of the quiet.
        half = len(self._frames[cut]) // 4 * 2
        head = b"".join(self._frames[:cut]) + self._frames[cut][:half]
        head_end = self._start + len(head) // 2
        spoken_end = head_end if self._voiced[cut] else self._start
        if not self._voiced[cut]:
            last = max((i for i in range(cut) if self._voiced[i]), default=None)
            if last is not None:
                spoken_end = self._start + offsets[last] + len(self._frames[last]) // 2
        tail = [self._frames[cut][half:], *self._frames[cut + 1 :]]
        tail_voiced = self._voiced[cut:]
        if self._confirmed:
            completed.append(self._emit(head, True, spoken_end))

        was_confirmed = self._confirmed
        self._clear_utterance()
        if not any(tail_voiced):
            self._ring.extend(piece for piece in tail if piece)
            return
        self._start = head_end
        for piece, voiced in zip(tail, tail_voiced, strict=True):
            if piece:
                self._append(piece, voiced)
        # The rest of a long utterance is speech already, however little of it is left.
        self._confirmed = self._confirmed or was_confirmed


def _mean_square(pcm: bytes) -> float:
    """Mean of the squared int16 samples in ``pcm`` (an even number of bytes)."""
    samples = array("h")
    samples.frombytes(pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return 0.0
    return sum(map(operator.mul, samples, samples)) / len(samples)
