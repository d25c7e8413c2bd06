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
    model: ModelSettings,
    engine: Any = None,
    sample: Path = SELFTEST_WAV,
    quick: bool = False,
    models_dir: Path | None = None,
) -> Check:
    """The model is on disk, loads, and transcribes the self-test recording correctly; the
    report lists the models installed and the languages of the one in use.

    ``quick``: only find the model, without loading it (nor assembling a packaged one).
    """
    from butler_ls.plugin_api import decode_all, wer

    from .engine import ENGINE, Options, choose_device
    from .models import BUNDLED, ModelError, installed_models, model_languages, resolve_model
    from .packaged import PACKAGED, assembled, default_models_dir

    engine = engine or ENGINE
    data: dict[str, Any] = {"model": model.name}
    models_dir = models_dir or default_models_dir()
    data["installed"] = installed_models(models_dir)
    lines = [f"installed: {_listing(data['installed'])}"]
    if quick and model.name in PACKAGED and not assembled(PACKAGED[model.name], models_dir):
        # --quick hashes nothing: the first transcription (or a full doctor) assembles it.
        listed = {m["name"]: m for m in data["installed"]}
        if model.name in listed:
            data["languages"] = listed[model.name]["languages"]
            detail = f"{model.name} is installed, not yet assembled; self-test skipped (--quick)"
            return Check("model", "ok", detail, data=data, lines=lines)
    try:
        spec = resolve_model(model.name, models_dir=models_dir)
    except ModelError as exc:
        fix = (
            "set model.name to tiny.en (bundled), to the folder of a CTranslate2 Whisper model, "
            "or to a model already in the Hugging Face cache; Butler downloads nothing"
        )
        if model.name in PACKAGED:
            fix = f"the message says how; meanwhile the server transcribes with {BUNDLED}"
        return Check("model", "fail", str(exc), fix, data, lines)
    data["path"] = str(spec.path)
    data["languages"] = model_languages(spec.path, spec.name)
    lines.append(f"in use: {spec.name}, which hears {_hears(data['languages'])}")
    if quick:
        detail = f"{spec.name} at {spec.path}; self-test skipped (--quick)"
        return Check("model", "ok", detail, data=data, lines=lines)
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
        return Check("model", "warn", detail, fix, data, lines)
    return Check("model", "ok", f"{where} {timing}: {transcript.text!r}", data=data, lines=lines)


def _listing(installed: list[dict[str, Any]]) -> str:
    """``tiny.en (bundled, English), base (butler-ls[multilingual], assembled, 99 languages)``."""
    return ", ".join(
        f"{m['name']} ({m['source']}, {m['state']}, {_hears(m['languages'])})" for m in installed
    )


def _hears(languages: list[str] | None) -> str:
    if not languages:
        return "languages unknown"
    if languages == ["en"]:
        return "English only"
    return f"{len(languages)} languages"


def checks(ctx: DoctorContext) -> list[Check]:
    """transcriber's doctor checks (``doctor:`` in plugin.yaml)."""
    from .packaged import models_dir_in

    models_dir = models_dir_in(ctx.paths.data_dir)
    return [check_model(ctx.settings.get(ModelSettings), quick=ctx.quick, models_dir=models_dir)]
