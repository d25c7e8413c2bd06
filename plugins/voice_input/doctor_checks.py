"""voice_input's ``butler-ls doctor`` check: PortAudio loads, the microphones it sees and
the rates they take, and whether ``audio.device`` finds one.
"""

from __future__ import annotations

from typing import Any

from butler_ls.plugin_api import Check, DoctorContext

from .settings import AudioSettings

NO_MICROPHONE_FIX = (
    "connect a microphone, and check that the sound server (PulseAudio or PipeWire) runs "
    "and that this user may record; then choose it with audio.device (a name or an index) "
    "if it is not the default input"
)


def check_audio(spec: str | int | None, audio: Any = None) -> Check:
    """PortAudio loads, lists input devices with their rates, and ``audio.device`` finds one."""
    if audio is None:
        from . import audio_input as audio
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


def checks(ctx: DoctorContext) -> list[Check]:
    """voice_input's doctor checks (``doctor:`` in plugin.yaml)."""
    return [check_audio(ctx.settings.get(AudioSettings).device)]
