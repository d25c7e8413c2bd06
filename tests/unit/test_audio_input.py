"""Finding the microphone (PortAudio faked: this machine has no sound card) and resampling."""

from __future__ import annotations

import builtins
import math
from types import SimpleNamespace

import numpy
import pytest

from tests.helpers import load_plugin_module

audio_input = load_plugin_module("voice_input", "audio_input")
AudioInputError, Resampler = audio_input.AudioInputError, audio_input.Resampler
find_input_device = audio_input.find_input_device


class FakePortAudio:
    """What sounddevice answers, for a given list of devices."""

    PortAudioError = RuntimeError

    def __init__(self, devices: list[tuple[str, int]], default: int = -1) -> None:
        self.devices = devices
        self.default = SimpleNamespace(device=[default, default])
        self.rescans = 0

    def query_devices(self):
        return [
            {
                "index": i,
                "name": name,
                "hostapi": 0,
                "max_input_channels": channels,
                "default_samplerate": 48000.0,
            }
            for i, (name, channels) in enumerate(self.devices)
        ]

    def query_hostapis(self):
        return [
            {
                "name": "ALSA",
                "devices": list(range(len(self.devices))),
                "default_input_device": self.default.device[0],
            }
        ]

    def _terminate(self) -> None:
        self.rescans += 1

    def _initialize(self) -> None:
        pass


@pytest.fixture
def portaudio(monkeypatch: pytest.MonkeyPatch):
    def install(devices, default=-1) -> FakePortAudio:
        fake = FakePortAudio(devices, default)
        monkeypatch.setattr(audio_input, "portaudio", lambda: fake)
        return fake

    return install


def test_devices_are_found_by_index_by_name_and_by_part_of_a_name(portaudio):
    portaudio([("HDMI out", 0), ("Built-in Mic", 2), ("USB Podcast Mic", 1)], default=1)
    assert find_input_device(None).name == "Built-in Mic"
    assert find_input_device(2).name == "USB Podcast Mic"
    assert find_input_device("2").name == "USB Podcast Mic"
    assert find_input_device("podcast").name == "USB Podcast Mic"
    assert find_input_device("built-in mic").name == "Built-in Mic"


def test_an_unknown_name_lists_the_devices_after_looking_again(portaudio):
    fake = portaudio([("Built-in Mic", 2)], default=0)
    with pytest.raises(AudioInputError, match=r"audio.device: no input device matches 'Yeti'") as e:
        find_input_device("Yeti")
    assert "0 'Built-in Mic' (ALSA, 2 ch, 48000 Hz)" in str(e.value)
    assert fake.rescans == 1  # plugged in meanwhile? PortAudio lists devices only at start


def test_no_input_device_at_all_says_what_to_do(portaudio):
    portaudio([("HDMI out", 0)])
    with pytest.raises(AudioInputError, match=r"no microphone.*connect a microphone"):
        find_input_device(None)


def test_missing_portaudio_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    real_import = builtins.__import__

    def no_portaudio(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    with pytest.raises(AudioInputError, match=r"PortAudio is not available.*libportaudio2"):
        audio_input.portaudio()
    assert audio_input.microphone_status(None)["available"] is False


def test_a_44k_stereo_microphone_becomes_16k_mono():
    rate, seconds = 44100, 1.0
    t = numpy.arange(int(rate * seconds)) / rate
    tone = (0.5 * numpy.sin(2 * math.pi * 440 * t) * 32767).astype("<i2")
    stereo = numpy.stack([tone, tone], axis=1).reshape(-1)
    resampler = Resampler(rate, 2)
    out = b"".join(
        resampler.convert(stereo[i : i + 2 * 1323].tobytes()) for i in range(0, len(stereo), 2646)
    )
    out += resampler.flush()
    samples = numpy.frombuffer(out, dtype="<i2")
    assert abs(len(samples) - 16000) < 200
    # Same loudness (a 0.5 full-scale sine has an RMS of 0.354), same pitch.
    rms = math.sqrt(numpy.mean((samples[1000:-1000] / 32768.0) ** 2))
    assert 0.3 < rms < 0.4
    spectrum = numpy.abs(numpy.fft.rfft(samples * numpy.hanning(len(samples))))
    assert abs(numpy.argmax(spectrum) * 16000 / len(samples) - 440) < 2


def test_16k_mono_passes_through_untouched():
    data = bytes(range(256)) * 10
    assert Resampler(16000, 1).convert(data) == data
