"""``butler-ls doctor`` as a user runs it: the real process, the real model, a real worker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

CHECKS = ["config", "paths", "notes", "audio", "model", "queue", "worker"]


def doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "butler_ls", "doctor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def doctor_json(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    done = doctor(env, "--json", *args)
    report = json.loads(done.stdout)  # stdout holds the JSON document and nothing else
    assert [check["name"] for check in report["checks"]] == CHECKS
    failed = any(check["status"] == "fail" for check in report["checks"])
    assert report["ok"] is not failed
    assert done.returncode == (1 if failed else 0), done.stderr
    return done.returncode, {check["name"]: check for check in report["checks"]}


def write_config(env: dict[str, str], settings: dict[str, Any]) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "butler" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture
def worker(butler_env: dict[str, str]):
    """A real ``butler-ls worker`` serving the test's queue, stopped afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "butler_ls", "worker"],
        env=butler_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    queue = Path(butler_env["XDG_DATA_HOME"]) / "butler" / "queue"
    try:
        from butler_ls.queue.jobs import SqliteJobBoard

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if (queue / "jobs.db").exists() and SqliteJobBoard(queue).workers(max_age=2):
                break
            assert process.poll() is None, "the worker exited"
            time.sleep(0.1)
        else:
            pytest.fail("the worker did not heartbeat within 20 s")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_healthy_setup_passes_the_model_self_test_and_times_the_worker(
    butler_env: dict[str, str], worker: subprocess.Popen[bytes], tmp_path: Path
):
    workspace = tmp_path / "project"
    workspace.mkdir()
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    code, checks = doctor_json(butler_env, "--workspace", str(workspace))
    model = checks["model"]
    assert model["status"] == "ok", model
    assert model["model"] == "tiny.en" and model["wer"] <= 0.25
    assert "forward" in model["text"].lower()
    assert model["loadMs"] > 0 and model["transcribeMs"] > 0
    assert checks["config"]["status"] == "ok" and checks["paths"]["status"] == "ok"
    assert checks["notes"]["directory"] == str(workspace / "notes" / "daily")
    assert checks["queue"]["status"] == "ok" and checks["queue"]["backend"] == "sqlite"
    assert checks["worker"]["status"] == "ok", checks["worker"]
    assert checks["worker"]["workers"][0]["pid"] == worker.pid
    assert 0 < checks["worker"]["pickupMs"] < 1000
    # Audio depends on the machine (a microphone or not); the exit code follows it.
    assert checks["audio"]["status"] in ("ok", "warn", "fail")
    assert code == (1 if checks["audio"]["status"] == "fail" else 0)
    # Nothing left behind: no process, no inbox pipe of the doctor's echo job.
    assert {p.pid for p in psutil.Process().children(recursive=True)} == before
    queue = Path(butler_env["XDG_DATA_HOME"]) / "butler" / "queue"
    assert not list(queue.glob("inbox-*"))


def test_text_report_without_a_worker(butler_env: dict[str, str]):
    done = doctor(butler_env)
    lines = done.stdout.splitlines()
    heads = [line for line in lines if line[:5] in ("OK   ", "WARN ", "FAIL ")]
    assert [line[5:].split(":")[0] for line in heads] == CHECKS
    worker = next(i for i, line in enumerate(lines) if line.startswith("WARN worker:"))
    assert "no worker is running; the server starts one on first use" in lines[worker]
    assert lines[worker + 1].startswith("     fix: ")
    assert done.returncode == (1 if any(h.startswith("FAIL") for h in heads) else 0)
    # The doctor started no worker and created no queue.
    assert not (Path(butler_env["XDG_DATA_HOME"]) / "butler" / "queue").exists()


def test_a_bad_key_in_the_settings_file_is_a_warning_naming_it(butler_env: dict[str, str]):
    path = write_config(butler_env, {"notse": {"directory": "~/n"}, "model": {"name": "tiny.en"}})
    _, checks = doctor_json(butler_env)
    config = checks["config"]
    assert config["status"] == "warn"
    assert "butler.notse" in config["detail"] and str(path) in config["detail"]
    assert "did you mean 'notes'" in config["detail"] and str(path) in config["fix"]
    assert checks["model"]["status"] == "ok"  # the rest still runs on the good keys


def test_a_notes_folder_that_cannot_be_written_fails(butler_env: dict[str, str], tmp_path: Path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the notes folder should begin")
    write_config(butler_env, {"notes": {"directory": str(blocker / "daily")}})
    code, checks = doctor_json(butler_env)
    notes = checks["notes"]
    assert notes["status"] == "fail" and str(blocker) in notes["detail"]
    assert "notes.directory" in notes["fix"]
    assert code == 1


def test_no_microphone_fails_with_a_fix(butler_env: dict[str, str], tmp_path: Path):
    # No sound server to reach: PortAudio then sees no input on a machine without cards.
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    env = {**butler_env, "XDG_RUNTIME_DIR": str(runtime), "PULSE_SERVER": f"unix:{runtime}/none"}
    code, checks = doctor_json(env)
    audio = checks["audio"]
    if audio.get("devices"):
        pytest.skip("this machine has sound cards that PortAudio lists without a sound server")
    assert audio["status"] == "fail" and audio["detail"].startswith("no microphone")
    assert "audio.device" in audio["fix"] and "microphone" in audio["fix"]
    assert code == 1
    text = doctor(env)
    assert "FAIL audio: no microphone" in text.stdout and text.returncode == 1


EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_the_example_plugin_adds_its_check_after_the_core_ones(
    butler_env: dict[str, str], tmp_path: Path
):
    broken = tmp_path / "more" / "broken_doc"
    broken.mkdir(parents=True)
    (broken / "plugin.yaml").write_text(
        "id: broken_doc\nname: Broken\nversion: '1.0'\nentry: plugin\n"
        "doctor: doctor_checks:checks\n"
    )
    (broken / "plugin.py").write_text("def activate(ctx):\n    pass\n")
    (broken / "doctor_checks.py").write_text("raise ImportError('needs a missing library')\n")
    write_config(butler_env, {"plugins": {"paths": [str(EXAMPLES), str(tmp_path / "more")]}})
    done = doctor(butler_env, "--json", "--quick")
    report = json.loads(done.stdout)
    checks = {check["name"]: check for check in report["checks"]}
    assert list(checks) == [*CHECKS, "word_count", "broken_doc"]  # plugins.paths order
    assert checks["word_count"]["status"] == "ok", checks["word_count"]
    assert checks["word_count"]["sampleWords"] == 6 and checks["word_count"]["countNumbers"]
    assert checks["broken_doc"]["status"] == "fail" and done.returncode == 1
    assert "ImportError: needs a missing library" in checks["broken_doc"]["detail"]
    assert "skipped" in checks["model"]["detail"]  # --quick
    assert checks["notes"]["status"] == "ok" and checks["config"]["status"] == "ok"


def test_a_missing_template_fails_the_notes_check(butler_env: dict[str, str], tmp_path: Path):
    template = tmp_path / "gone.md"
    write_config(butler_env, {"notes": {"template": str(template)}})
    code, checks = doctor_json(butler_env, "--quick")
    notes = checks["notes"]
    assert notes["status"] == "fail" and str(template) in notes["detail"]
    assert "notes.template" in notes["fix"] and code == 1
