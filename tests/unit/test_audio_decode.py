"""Unit tests for butler_ls.util.audio_decode: every common format to 16 kHz mono float32.

Audio is made on the fly with PyAV; damaged, empty and non-audio files give clear errors.
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy
import pytest

from butler_ls.util.audio_decode import (
    SAMPLE_RATE,
    AudioError,
    AudioInfo,
    decode,
    decode_all,
    decode_pcm,
    probe,
)
from tests.helpers import run_unprivileged

SECONDS = 3.0

# name, encoder, container format, sample rate, channels, encoder options
FORMATS = [
    ("tone.wav", "pcm_s16le", None, 8000, 1, {}),
    ("tone48.wav", "pcm_s16le", None, 48000, 2, {}),
    ("tone.flac", "flac", None, 44100, 2, {}),
    ("tone.mp3", "libmp3lame", None, 44100, 2, {}),
    ("tone48.mp3", "libmp3lame", None, 48000, 1, {}),
    ("tone.ogg", "vorbis", None, 44100, 2, {"strict": "experimental"}),
    ("tone.opus", "libopus", "ogg", 48000, 1, {}),
    ("tone.m4a", "aac", None, 44100, 2, {}),
]
CODECS = {"tone.wav": "pcm_s16le", "tone.flac": "flac", "tone.mp3": "mp3", "tone.ogg": "vorbis"}


def tone(rate: int, seconds: float = SECONDS, amplitude: float = 0.5) -> numpy.ndarray:
    t = numpy.arange(round(rate * seconds)) / rate
    return (amplitude * numpy.sin(2 * numpy.pi * 440 * t)).astype(numpy.float32)


def write_audio(
    path: Path,
    codec: str,
    rate: int,
    channels: int,
    samples: numpy.ndarray,
    *,
    fmt: str | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode ``samples`` (the same on every channel) with PyAV; its encoder reframes them."""
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout, options=options or {})
        planes = numpy.ascontiguousarray(numpy.tile(samples, (channels, 1)))
        frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("audio")
    made = {}
    for name, codec, fmt, rate, channels, options in FORMATS:
        made[name] = write_audio(
            folder / name, codec, rate, channels, tone(rate), fmt=fmt, options=options
        )
    return made


def peak_frequency(samples: numpy.ndarray) -> float:
    spectrum = numpy.abs(numpy.fft.rfft(samples))
    return float(numpy.argmax(spectrum) * SAMPLE_RATE / len(samples))


@pytest.mark.parametrize("name", [entry[0] for entry in FORMATS])
def test_every_format_decodes_to_16k_mono_float32(files: dict[str, Path], name: str) -> None:
    samples = decode_all(files[name])
    assert samples.dtype == numpy.float32
    assert samples.ndim == 1
    assert abs(len(samples) - SECONDS * SAMPLE_RATE) <= 0.01 * SECONDS * SAMPLE_RATE
    assert numpy.abs(samples).max() <= 1.0
    # The tone survives resampling and the downmix: a 440 Hz peak at about half scale.
    assert peak_frequency(samples) == pytest.approx(440, abs=2)
    assert 0.3 < numpy.sqrt(numpy.mean(samples**2)) < 0.4


@pytest.mark.parametrize("name", [entry[0] for entry in FORMATS])
def test_probe_reads_headers(files: dict[str, Path], name: str) -> None:
    _, _, _, rate, channels, _ = next(entry for entry in FORMATS if entry[0] == name)
    info = probe(files[name])
    assert isinstance(info, AudioInfo)
    assert info.duration == pytest.approx(SECONDS, abs=0.05)
    assert info.sample_rate == rate
    assert info.channels == channels
    if name in CODECS:
        assert info.codec == CODECS[name]


def test_loud_stereo_stays_within_full_scale(tmp_path: Path) -> None:
    loud = write_audio(tmp_path / "loud.wav", "pcm_s16le", 44100, 2, tone(44100, 1.0, 0.99))
    samples = decode_all(loud)
    assert 0.95 < numpy.abs(samples).max() <= 1.0


def test_chunks_are_the_requested_length_and_add_up(files: dict[str, Path]) -> None:
    chunks = list(decode(files["tone.flac"], chunk_seconds=1.0))
    assert [len(chunk) for chunk in chunks[:-1]] == [SAMPLE_RATE] * (len(chunks) - 1)
    assert 0 < len(chunks[-1]) <= SAMPLE_RATE
    assert all(chunk.dtype == numpy.float32 for chunk in chunks)
    numpy.testing.assert_array_equal(numpy.concatenate(chunks), decode_all(files["tone.flac"]))


def test_fractional_chunks_and_early_stop(files: dict[str, Path]) -> None:
    chunks = decode(files["tone.mp3"], chunk_seconds=0.25)
    first = next(chunks)
    assert len(first) == SAMPLE_RATE // 4
    chunks.close()  # stopping early is allowed and frees the file


def test_bytes_decode_like_the_file(files: dict[str, Path]) -> None:
    path = files["tone.m4a"]
    data = path.read_bytes()
    numpy.testing.assert_array_equal(decode_all(data), decode_all(path))
    assert probe(data) == probe(path)
    assert len(decode_all(memoryview(data))) == len(decode_all(path))


def test_silence_is_not_an_error(tmp_path: Path) -> None:
    silent = numpy.zeros(16000, dtype=numpy.float32)
    path = write_audio(tmp_path / "silence.flac", "flac", 16000, 1, silent)
    samples = decode_all(path)
    assert len(samples) == 16000
    assert not samples.any()


def test_max_seconds_names_the_limit(files: dict[str, Path]) -> None:
    with pytest.raises(AudioError, match=r"tone\.wav is about 3 s long, over the limit of 2 s"):
        decode_all(files["tone.wav"], max_seconds=2)
    assert len(decode_all(files["tone.wav"], max_seconds=5)) == 3 * SAMPLE_RATE


def test_bad_chunk_length_is_refused(files: dict[str, Path]) -> None:
    with pytest.raises(AudioError, match="chunk_seconds must be greater than 0"):
        decode(files["tone.wav"], chunk_seconds=0)


# -- raw PCM -------------------------------------------------------------------------------


def test_pcm_at_16k_mono_passes_through() -> None:
    pcm = numpy.array([0, 16384, -32768, 32767], dtype="<i2")
    samples = decode_pcm(pcm.tobytes(), sample_rate=16000)
    assert samples.dtype == numpy.float32
    numpy.testing.assert_allclose(samples, [0.0, 0.5, -1.0, 32767 / 32768])


def test_pcm_stereo_s16_is_resampled_and_averaged() -> None:
    left = (tone(8000, 1.0) * 32767).astype("<i2")
    stereo = numpy.stack([left, numpy.zeros_like(left)], axis=1)  # interleaved L R
    samples = decode_pcm(stereo.tobytes(), sample_rate=8000, channels=2)
    assert len(samples) == pytest.approx(SAMPLE_RATE, abs=SAMPLE_RATE * 0.01)
    assert peak_frequency(samples) == pytest.approx(440, abs=2)
    assert numpy.abs(samples).max() == pytest.approx(0.25, abs=0.02)


def test_pcm_float_at_44k() -> None:
    samples = decode_pcm(tone(44100, 2.0).tobytes(), sample_rate=44100, sample_format="f32le")
    assert len(samples) == pytest.approx(2 * SAMPLE_RATE, abs=2 * SAMPLE_RATE * 0.01)
    assert decode_pcm(b"", sample_rate=44100).shape == (0,)


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (b"\x00\x01\x02", {"sample_rate": 16000}, "3 bytes, not a multiple of 2"),
        (b"\x00" * 6, {"sample_rate": 16000, "channels": 2}, "not a multiple of 4"),
        (b"\x00" * 4, {"sample_rate": 16000, "sample_format": "u8"}, "use one of: s16le, f32le"),
        (b"\x00" * 4, {"sample_rate": 0}, "sample_rate must be a positive whole number"),
        (b"\x00" * 4, {"sample_rate": -8000}, "sample_rate must be a positive"),
        (b"\x00" * 4, {"sample_rate": 16000, "channels": 0}, "channels must be a positive"),
    ],
)
def test_bad_pcm_arguments(data: bytes, kwargs: dict, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        decode_pcm(data, **kwargs)


# -- errors --------------------------------------------------------------------------------


def test_missing_file_fails_when_decode_is_called(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    with pytest.raises(AudioError, match=r"nope\.wav does not exist; check the path"):
        decode(missing)  # not only once the first chunk is asked for
    with pytest.raises(AudioError, match="does not exist"):
        probe(str(missing))


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="is a directory, not a file"):
        decode_all(tmp_path)


def test_empty_file_and_empty_bytes(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(AudioError, match=r"empty\.wav is empty \(0 bytes\)"):
        decode_all(empty)
    with pytest.raises(AudioError, match=r"the audio data is empty \(0 bytes\)"):
        decode_all(b"")


@pytest.mark.parametrize("name", ["notes.txt", "notes.wav", "notes"])
def test_text_file_is_not_audio(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("Dear diary, today I bought milk.\n" * 20)
    with pytest.raises(AudioError) as caught:
        decode_all(path)
    message = str(caught.value)
    assert message.startswith(f"{path} is not an audio file Butler can read (it holds text)")
    assert message.endswith("use WAV, FLAC, MP3, OGG, M4A or another format FFmpeg reads")


def test_image_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(png_bytes())
    with pytest.raises(AudioError, match=r"photo\.png is not an audio file Butler can read"):
        probe(path)
    with pytest.raises(AudioError, match="the audio data is not audio Butler can read"):
        decode_all(png_bytes())


def test_video_without_sound(tmp_path: Path) -> None:
    path = tmp_path / "silent_film.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(numpy.zeros((16, 16, 3), numpy.uint8), "rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(AudioError, match=r"silent_film\.mp4 has no audio stream \(it holds video"):
        decode_all(path)


UNREADABLE_CHILD = """
import sys
from butler_ls.util.audio_decode import AudioError, decode_all
try:
    decode_all(sys.argv[1])
except AudioError as exc:
    print(exc)
"""


def test_unreadable_file(files: dict[str, Path], tmp_path: Path) -> None:
    # In a child for whom file modes hold (as root too: see run_unprivileged).
    locked = tmp_path / "locked.wav"
    locked.write_bytes(files["tone.wav"].read_bytes())
    locked.chmod(0)
    try:
        done = run_unprivileged(UNREADABLE_CHILD, str(locked))
    finally:
        locked.chmod(0o600)
    assert done.returncode == 0, done.stderr
    assert "permission denied; make it readable" in done.stdout


# -- damaged files: keep what decodes, warn, and raise only when asked to be strict ----------


def cut(source: Path, target: Path, fraction: float = 0.5) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def test_wav_cut_in_half_gives_the_first_half(files: dict[str, Path], tmp_path: Path) -> None:
    half = decode_all(cut(files["tone.wav"], tmp_path / "half.wav"), strict=True)
    assert len(half) == pytest.approx(SECONDS / 2 * SAMPLE_RATE, rel=0.01)


def test_mp3_cut_in_half_warns(
    files: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="butler_ls.util.audio_decode"):
        half = decode_all(cut(files["tone.mp3"], tmp_path / "half.mp3"))
    assert len(half) == pytest.approx(SECONDS / 2 * SAMPLE_RATE, rel=0.02)
    assert "only 1.5 s decoded; it may be cut off" in caplog.text


def test_m4a_cut_in_half_is_reported_as_damaged(files: dict[str, Path], tmp_path: Path) -> None:
    # MP4 keeps its index at the end: without it nothing can be found, so this is an error.
    half = cut(files["tone.m4a"], tmp_path / "half.m4a")
    with pytest.raises(AudioError, match=r"half\.m4a looks damaged or cut off"):
        decode_all(half)
    with pytest.raises(AudioError, match="the audio data looks damaged or cut off"):
        decode_all(half.read_bytes())


def with_garbage(source: Path, target: Path) -> Path:
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = numpy.random.default_rng(7).bytes(2000)
    target.write_bytes(bytes(data))
    return target


def test_garbage_in_an_mp3_is_skipped_with_a_warning(
    files: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damaged = with_garbage(files["tone.mp3"], tmp_path / "damaged.mp3")
    with caplog.at_level(logging.WARNING, logger="butler_ls.util.audio_decode"):
        samples = decode_all(damaged)
    # 2000 bytes are about an eighth of a second at 128 kbit/s; the rest survives.
    assert 0.85 * SECONDS * SAMPLE_RATE < len(samples) < SECONDS * SAMPLE_RATE
    assert "damaged.mp3: skipped" in caplog.text
    assert "damaged packet(s), the first at 1." in caplog.text
    with pytest.raises(AudioError, match=r"damaged\.mp3 is damaged at 1\.\d s"):
        decode_all(damaged, strict=True)


def test_garbage_in_a_wav_is_just_noise(files: dict[str, Path], tmp_path: Path) -> None:
    # PCM has no structure to check, so damage cannot be told from sound.
    samples = decode_all(with_garbage(files["tone.wav"], tmp_path / "damaged.wav"), strict=True)
    assert len(samples) == SECONDS * SAMPLE_RATE
    assert numpy.abs(samples).max() <= 1.0


def test_nothing_decodable_is_an_error(files: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(files["tone.mp3"].read_bytes())
    # Keep the first frame header so FFmpeg recognises MP3, then wreck every frame.
    start = data.index(b"\xff\xfb") if b"\xff\xfb" in data else 0
    data[start + 4 :] = bytes(len(data) - start - 4)
    path = tmp_path / "wrecked.mp3"
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError, match=r"wrecked\.mp3 (is damaged|looks damaged|is not)"):
        decode_all(path)


class _FailingDisk:
    """A container whose reads fail midway, like a file on a drive that was unplugged."""

    def __init__(self, container: Any, packets_before_failure: int) -> None:
        self._container = container
        self._left = packets_before_failure

    def __getattr__(self, name: str) -> object:
        return getattr(self._container, name)

    def __enter__(self) -> _FailingDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def demux(self, *streams: object) -> Iterator[Any]:
        for packet in self._container.demux(*streams):
            if self._left == 0:
                raise OSError(5, "Input/output error")
            self._left -= 1
            yield packet


def test_read_error_midway_keeps_the_audio_before_it(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *args, **kw: _FailingDisk(real_open(*args, **kw), 20))
    with caplog.at_level(logging.WARNING, logger="butler_ls.util.audio_decode"):
        samples = decode_all(files["tone.flac"])
    assert 0 < len(samples) < SECONDS * SAMPLE_RATE
    assert "tone.flac is cut off or damaged after" in caplog.text
    assert "using the audio before that" in caplog.text
    with pytest.raises(AudioError, match=r"tone\.flac is cut off or damaged after \d+\.\d s"):
        decode_all(files["tone.flac"], strict=True)
    monkeypatch.setattr(av, "open", lambda *args, **kw: _FailingDisk(real_open(*args, **kw), 0))
    with pytest.raises(AudioError, match="no audio in it could be decoded"):
        decode_all(files["tone.flac"])
