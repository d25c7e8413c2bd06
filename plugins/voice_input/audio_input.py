"""Microphones through PortAudio (sounddevice): finding the input device, opening it, resampling.

Imported only when audio is needed: sounddevice loads PortAudio, numpy and PyAV on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import attrs

# The status probe runs this file as a script (python -P): it imports none of its siblings,
# and takes Butler's small utilities directly, not plugin_api (which loads the LSP stack).
from butler_ls.util.audio_format import SAMPLE_RATE  # what the rest of Butler hears
from butler_ls.util.errors import ButlerError

logger = logging.getLogger(__name__)

COMMON_RATES = (8000, 16000, 22050, 32000, 44100, 48000)
"""Rates the doctor checks a device for."""

INSTALL_HINT = (
    "install PortAudio (Debian/Ubuntu: sudo apt install libportaudio2; Fedora: sudo dnf "
    "install portaudio; macOS: brew install portaudio)"
)
NO_DEVICE_HINT = (
    "connect a microphone, check that the sound server (PulseAudio or PipeWire) is running "
    "and that this user may record, then start dictation again; `butler-ls doctor` lists "
    "what PortAudio sees"
)

_lock = threading.Lock()


class AudioInputError(ButlerError):
    """No usable microphone; the message says why and what to do."""


@attrs.frozen
class InputDevice:
    """An input device as PortAudio lists it."""

    index: int
    name: str
    host_api: str
    channels: int
    default_rate: int
    is_default: bool

    def describe(self) -> str:
        """``3 'USB Mic' (ALSA, 2 ch, 48000 Hz)``."""
        return (
            f"{self.index} {self.name!r} ({self.host_api}, {self.channels} ch, "
            f"{self.default_rate} Hz)"
        )


def portaudio() -> Any:
    """The sounddevice module, or AudioInputError saying how to install PortAudio."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio is missing
        raise AudioInputError(f"PortAudio is not available ({exc}); {INSTALL_HINT}") from None
    except ImportError as exc:
        raise AudioInputError(
            f"the Python package sounddevice is missing ({exc}); reinstall butler-ls"
        ) from None
    return sounddevice


def rescan() -> None:
    """Make PortAudio look for devices again (it lists them once, when it starts)."""
    sd = portaudio()
    with _lock:
        sd._terminate()
        sd._initialize()


def input_devices() -> list[InputDevice]:
    """Every device that can record, in PortAudio's order."""
    sd = portaudio()
    with _lock:
        try:
            devices = sd.query_devices()
            apis = sd.query_hostapis()
            default = sd.default.device[0]
        except sd.PortAudioError as exc:
            message = f"PortAudio cannot list devices ({exc}); {NO_DEVICE_HINT}"
            raise AudioInputError(message) from None
    if default is None or default < 0:
        default = next((api["default_input_device"] for api in apis if api["devices"]), -1)
    return [
        InputDevice(
            index=int(info["index"]),
            name=str(info["name"]),
            host_api=str(apis[info["hostapi"]]["name"]),
            channels=int(info["max_input_channels"]),
            default_rate=int(info["default_samplerate"]),
            is_default=int(info["index"]) == default,
        )
        for info in devices
        if info["max_input_channels"] > 0
    ]


def find_input_device(spec: str | int | None) -> InputDevice:
    """The device ``audio.device`` names (an index, or part of a name), else the default.

    Looks twice: the second time after a rescan, for a microphone plugged in meanwhile.
    """
    for attempt in range(2):
        devices = input_devices()
        found = _match(devices, spec)
        if found is not None:
            return found
        if attempt == 0:
            rescan()
    if not devices:
        raise AudioInputError(f"no microphone: PortAudio finds no input device; {NO_DEVICE_HINT}")
    listing = "; ".join(device.describe() for device in devices)
    if spec is None or spec == "":
        raise AudioInputError(
            f"there is no default input device; set audio.device to one of: {listing}"
        )
    raise AudioInputError(f"audio.device: no input device matches {spec!r}; available: {listing}")


def _match(devices: list[InputDevice], spec: str | int | None) -> InputDevice | None:
    if spec is None or spec == "":
        return next((d for d in devices if d.is_default), devices[0] if devices else None)
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        index = int(spec)
        return next((d for d in devices if d.index == index), None)
    wanted = spec.strip().casefold()
    exact = [d for d in devices if d.name.casefold() == wanted]
    partial = [d for d in devices if wanted in d.name.casefold()]
    return (exact or partial or [None])[0]


def supported_rates(device: InputDevice, channels: int = 1) -> list[int]:
    """Which of ``COMMON_RATES`` the device accepts."""
    sd = portaudio()
    rates = []
    for rate in COMMON_RATES:
        try:
            sd.check_input_settings(device=device.index, channels=channels, samplerate=rate)
        except Exception:
            continue
        rates.append(rate)
    return rates


class Resampler:
    """int16 interleaved audio at any rate and channel count to 16 kHz mono int16 bytes."""

    def __init__(self, rate: int, channels: int) -> None:
        self.rate = rate
        self.channels = channels
        self._passthrough = rate == SAMPLE_RATE and channels == 1
        if not self._passthrough:
            import av
            import numpy

            self._av, self._numpy = av, numpy
            self._layout = "mono" if channels == 1 else "stereo"
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def convert(self, pcm: bytes) -> bytes:
        """Resample one chunk; the resampler keeps its filter state between chunks."""
        if self._passthrough or not pcm:
            return pcm
        samples = self._numpy.frombuffer(pcm, dtype="<i2")
        if self.channels > 2:
            samples = samples.reshape(-1, self.channels)[:, :2].reshape(-1)
        frame = self._av.AudioFrame.from_ndarray(
            samples.reshape(1, -1), format="s16", layout=self._layout
        )
        frame.sample_rate = self.rate
        return b"".join(out.to_ndarray().tobytes() for out in self._resampler.resample(frame))

    def flush(self) -> bytes:
        """What the filter still holds at the end of the stream."""
        if self._passthrough:
            return b""
        return b"".join(out.to_ndarray().tobytes() for out in self._resampler.resample(None))


class Microphone:
    """A running PortAudio input stream that hands 16 kHz mono int16 chunks to ``on_audio``.

    PortAudio calls back on its own thread; the chunks are resampled there (a few hundred
    microseconds each) so the caller gets ready-to-use audio in order.
    """

    def __init__(
        self,
        device: InputDevice,
        on_audio: Callable[[bytes], None],
        on_error: Callable[[str], None],
        block_ms: int = 30,
    ) -> None:
        sd = portaudio()
        self.device = device
        channels = 1  # PortAudio (and the sound server behind it) mixes down for us
        rate = device.default_rate or SAMPLE_RATE
        for candidate in (SAMPLE_RATE, rate):
            # A microphone that takes 16 kHz itself saves the resampling.
            try:
                sd.check_input_settings(
                    device=device.index, channels=channels, samplerate=candidate, dtype="int16"
                )
            except Exception:
                continue
            rate = candidate
            break
        self.rate = rate
        self._resampler = Resampler(rate, channels)
        self._on_audio = on_audio
        self._on_error = on_error
        self._overflows = 0

        def callback(data: Any, frames: int, time: Any, status: Any) -> None:
            if status and status.input_overflow:
                self._overflows += 1
            try:
                self._on_audio(self._resampler.convert(bytes(data)))
            except Exception as exc:
                logger.exception("handling microphone audio failed")
                self._on_error(f"handling microphone audio failed: {exc}")
                raise sd.CallbackAbort from None

        try:
            self._stream = sd.RawInputStream(
                device=device.index,
                channels=channels,
                samplerate=rate,
                dtype="int16",
                blocksize=rate * block_ms // 1000,
                callback=callback,
                finished_callback=self._finished,
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            raise AudioInputError(
                f"cannot record from {device.describe()}: {exc}; {NO_DEVICE_HINT}"
            ) from None
        self._stopping = False

    def _finished(self) -> None:
        if not getattr(self, "_stopping", True):
            self._on_error(f"the microphone {self.device.name!r} stopped delivering audio")

    def close(self) -> None:
        """Stop recording; the audio already captured has been delivered when this returns."""
        self._stopping = True
        try:
            self._stream.stop()
            self._stream.close()
        except Exception:
            logger.exception("closing the microphone failed")
        tail = self._resampler.flush()
        if tail:
            self._on_audio(tail)
        if self._overflows:
            logger.warning("the microphone dropped audio %d times (overflow)", self._overflows)


def microphone_status(spec: str | int | None) -> dict[str, Any]:
    """``butler.status``'s audio section: the device ``spec`` selects, or why there is none."""
    try:
        device = find_input_device(spec)
    except AudioInputError as exc:
        return {"available": False, "reason": str(exc)}
    return {"available": True, "device": device.name, "rate": device.default_rate}


def _main() -> None:
    """``python -P audio_input.py [DEVICE]``: print ``microphone_status`` as JSON.

    The server asks this way: PortAudio then never loads into its memory before dictation
    (about 20 MB with the sound server's libraries), and a broken sound setup that makes
    PortAudio abort takes only this process down.
    """
    import json
    import sys

    spec = sys.argv[1] if len(sys.argv) > 1 else None
    print(json.dumps(microphone_status(spec)))


if __name__ == "__main__":
    _main()
