"""The doctor's speech checks: the microphones PortAudio sees, and the model's self-test.

The self-test transcribes ``data/selftest.wav`` in this process with the configured model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from butler_ls.doctor.checks import Check
from butler_ls.util.config import ModelSettings

SELFTEST_WAV = Path(__file__).resolve().parent.parent / "data" / "selftest.wav"
SELFTEST_TEXT = "go forward ten meters"
MAX_WER = 0.5  # tiny.en hears it perfectly; half the words wrong means a broken model

NO_MICROPHONE_FIX = (
    "connect a microphone, and check that the sound server (PulseAudio or PipeWire) runs "
    "and that this user may record; then choose it with audio.device (a name or an index) "
    "if it is not the default input"
)


def check_audio(spec: str | int | None, audio: Any = None) -> Check:
    """PortAudio loads, lists input devices with their rates, and ``audio.device`` finds one."""
    if audio is None:  # until this check moves into voice_input, through the host's loader
        from butler_ls.host.loader import import_from_plugin
        from butler_ls.host.manifest import MANIFEST_NAME, load_manifest
        from butler_ls.util.paths import builtin_plugins_dir

        folder = builtin_plugins_dir() / "voice_input"
        manifest = load_manifest(folder / MANIFEST_NAME, source="builtin")
        audio = import_from_plugin(manifest, "audio_input", None)
    try:
        audio.portaudio()
    except audio.AudioInputError as exc:
        detail = str(exc).removesuffix(f"; {audio.INSTALL_HINT}")
        return Check("audio", "fail", detail, audio.INSTALL_HINT, {"devices": []})
    try:
        devices = audio.input_devices()
    except audio.AudioInputError as exc:
        detail = str(exc).split("; ", 1)[0]
        return Check("audio", "fail", detail, NO_MICROPHONE_FIX, {"devices": []})
    data: dict[str, Any] = {"setting": spec, "selected": None, "devices": []}
    if not devices:
        detail = "no microphone: PortAudio finds no input device"
        return Check("audio", "fail", detail, NO_MICROPHONE_FIX, data)
    selected, problem = None, None
    try:
        selected = audio.find_input_device(spec)
    except audio.AudioInputError as exc:
        problem = str(exc).split("; ", 1)[0]
    lines = []
    for device in devices:
        rates = audio.supported_rates(device)
        chosen = selected is not None and device.index == selected.index
        data["devices"].append(
            {
                "index": device.index,
                "name": device.name,
                "hostApi": device.host_api,
                "channels": device.channels,
                "defaultRate": device.default_rate,
                "isDefault": device.is_default,
                "selected": chosen,
                "rates": rates,
            }
        )
        listed = ", ".join(map(str, rates)) or "none of " + "/".join(map(str, audio.COMMON_RATES))
        lines.append(f"{'*' if chosen else ' '} {device.describe()}: {listed} Hz")
    count = f"{len(devices)} input device{'s' if len(devices) != 1 else ''}"
    if selected is None:
        fix = (
            "set audio.device to the name (or part of it) or the index of a device listed, "
            "or remove it to use the default input"
        )
        return Check("audio", "fail", f"{problem} ({count})", fix, data, lines)
    data["selected"] = selected.index
    rates = next(d["rates"] for d in data["devices"] if d["selected"])
    how = "audio.device" if spec not in (None, "") else "the default input"
    detail = f"{how} is {selected.describe()}; {count}"
    if not rates:
        fix = "choose another input with audio.device, or check the device in the system's mixer"
        detail += f"; it accepts none of {', '.join(map(str, audio.COMMON_RATES))} Hz"
        return Check("audio", "warn", detail, fix, data, lines)
    return Check("audio", "ok", detail, data=data, lines=lines)


def check_model(model: ModelSettings, engine: Any = None, sample: Path = SELFTEST_WAV) -> Check:
    """The model is on disk, loads, and transcribes the self-test recording correctly."""
    from butler_ls.host.loader import import_from_plugin
    from butler_ls.host.manifest import MANIFEST_NAME, load_manifest
    from butler_ls.util.audio_decode import decode_all
    from butler_ls.util.paths import builtin_plugins_dir
    from butler_ls.util.word_errors import wer

    # Until this check moves into the transcriber plugin: its engine, through the host's loader.
    folder = builtin_plugins_dir() / "transcriber"
    manifest = load_manifest(folder / MANIFEST_NAME, source="builtin")
    models = import_from_plugin(manifest, "models", None)
    transcription = import_from_plugin(manifest, "engine", None)
    ModelError, resolve_model = models.ModelError, models.resolve_model
    ENGINE, Options = transcription.ENGINE, transcription.Options
    choose_device = transcription.choose_device

    engine = engine or ENGINE
    data: dict[str, Any] = {"model": model.name}
    try:
        spec = resolve_model(model.name)
    except ModelError as exc:
        fix = (
            "set model.name to tiny.en (bundled), to the folder of a CTranslate2 Whisper model, "
            "or to a model already in the Hugging Face cache; Butler downloads nothing"
        )
        return Check("model", "fail", str(exc), fix, data)
    data["path"] = str(spec.path)
    device, compute_type = choose_device(model.device, model.compute_type)
    data.update(device=device, computeType=compute_type)
    started = time.perf_counter()
    try:
        loaded = engine.model(spec, device=model.device, compute_type=model.compute_type)
    except ModelError as exc:
        fix = "check model.device and model.computeType (auto suits this machine), or reinstall"
        return Check("model", "fail", str(exc), fix, data)
    data["loadMs"] = round((time.perf_counter() - started) * 1000, 1)
    audio = decode_all(sample)
    started = time.perf_counter()
    # English whatever model.language says: the recording is English.
    transcript = engine.transcribe(audio, loaded, Options(language="en"))
    data["transcribeMs"] = round((time.perf_counter() - started) * 1000, 1)
    error = wer(SELFTEST_TEXT, transcript.text)
    data.update(audioSeconds=round(len(audio) / 16000, 2), text=transcript.text, wer=error)
    timing = f"loads in {data['loadMs'] / 1000:.2f} s, transcribes {data['audioSeconds']:.0f} s"
    timing += f" of speech in {data['transcribeMs'] / 1000:.2f} s"
    where = f"{spec.name} ({device}, {compute_type})"
    if error > MAX_WER:
        fix = (
            "the model runs but mishears a clear recording: check that model.name is a Whisper "
            "model that knows English, or replace its files (they may be damaged)"
        )
        detail = f"{where} heard {transcript.text!r} for {SELFTEST_TEXT!r}; {timing}"
        return Check("model", "warn", detail, fix, data)
    return Check("model", "ok", f"{where} {timing}: {transcript.text!r}", data=data)
