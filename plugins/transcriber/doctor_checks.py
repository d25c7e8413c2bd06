"""transcriber's ``butler-ls doctor`` check: the model is found, loads, and transcribes
``data/selftest.wav`` correctly, in this process with the configured model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from butler_ls.plugin_api import SAMPLE_RATE, Check, DoctorContext

from .settings import ModelSettings

SELFTEST_WAV = Path(__file__).resolve().parent / "data" / "selftest.wav"
SELFTEST_TEXT = "go forward ten meters"
MAX_WER = 0.5  # tiny.en hears it perfectly; half the words wrong means a broken model


def check_model(
    model: ModelSettings, engine: Any = None, sample: Path = SELFTEST_WAV, quick: bool = False
) -> Check:
    """The model is on disk, loads, and transcribes the self-test recording correctly.

    ``quick``: only find the model, without loading it.
    """
    from butler_ls.plugin_api import decode_all, wer

    from .engine import ENGINE, Options, choose_device
    from .models import ModelError, resolve_model

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
    if quick:
        return Check(
            "model", "ok", f"{spec.name} at {spec.path}; self-test skipped (--quick)", data=data
        )
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
    data.update(audioSeconds=round(len(audio) / SAMPLE_RATE, 2), text=transcript.text, wer=error)
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


def checks(ctx: DoctorContext) -> list[Check]:
    """transcriber's doctor checks (``doctor:`` in plugin.yaml)."""
    return [check_model(ctx.settings.get(ModelSettings), quick=ctx.quick)]
