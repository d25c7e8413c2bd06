"""A third-party plugin, copied outside the repository and installed through
``plugins.paths``, does everything a built-in one does: a command, a job handler in the
real worker (SQLite and Redis queues), a setting the settings engine checks, and a doctor
check. The plugin is docs/plugins.md's complete example, as a user would copy it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import StartServer, execute, server_pid

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "word_count"
REPO = Path(__file__).resolve().parents[2]
TEXT = "a an the word count 42 plugins\n" * 3000  # 7 words a line, 5 without numbers


@pytest.fixture
def third_party(tmp_path: Path) -> Path:
    """The example plugin, copied into a folder of the user's own, outside the repository."""
    folder = tmp_path / "my-plugins"
    shutil.copytree(EXAMPLE, folder / "word_count", ignore=shutil.ignore_patterns("__pycache__"))
    assert REPO not in folder.resolve().parents
    return folder


def queue_settings(backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    if backend == "redis":
        return {"backend": "redis", "url": request.getfixturevalue("redis_url")}
    return {"backend": "sqlite"}


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_its_command_job_and_checked_setting_work_end_to_end(
    start_server: StartServer,
    tmp_path: Path,
    third_party: Path,
    backend: str,
    request: pytest.FixtureRequest,
):
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "book.txt").write_text(TEXT)
    base = {
        "plugins": {"paths": [str(third_party)]},
        "queue": queue_settings(backend, request),
        "throttle": {"maxCpuPercent": 100},  # batch work waits while the machine is busy
    }

    # A value outside the setting's bounds: named in a warning, and the default used.
    client = await start_server(init_options={**base, "word_count": {"minLength": 0}}, root=root)
    shown = " | ".join(m.message for m in client.messages)
    assert "butler.word_count.minLength: must be between 1 and 100, got 0" in shown
    status = await execute(client, "butler.status")
    by_id = {p["id"]: p for p in status["plugins"]}
    assert by_id["word_count"]["state"] == "active" and by_id["word_count"]["source"] == "path"
    answer = await execute(client, "example.wordCountFile", {"path": "book.txt"})
    assert answer["words"] == 7 * 3000 and answer["lines"] == 3000
    assert answer["worker"] != server_pid(client)  # the real worker ran the plugin's job
    queue = await execute(client, "butler.queue.status")
    assert queue["backend"] == backend and queue["worker"]["pid"] == answer["worker"]

    # A good value reaches the plugin, and through its job the worker.
    settings = {**base, "word_count": {"minLength": 4, "countNumbers": False}}
    client = await start_server(init_options=settings, root=root)
    assert not [m for m in client.messages if "word_count" in m.message]
    answer = await execute(client, "example.wordCountFile", {"path": "book.txt"})
    assert answer["words"] == 3 * 3000  # "word", "count", "plugins"


def run_doctor(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "butler_ls", "doctor", "--json", "--quick"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    report = json.loads(done.stdout)
    return {check["name"]: check for check in report["checks"]}


def test_its_doctor_check_runs_and_the_doctor_checks_its_setting(
    butler_env: dict[str, str], third_party: Path
):
    config = Path(butler_env["XDG_CONFIG_HOME"]) / "butler" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {"plugins": {"paths": [str(third_party)]}}
    config.write_text(yaml.safe_dump({**settings, "word_count": {"minLength": 4}}))
    checks = run_doctor(butler_env)
    assert checks["config"]["status"] == "ok"
    check = checks["word_count"]
    assert check["status"] == "ok" and check["minLength"] == 4
    assert check["sampleWords"] == 1  # only "Meet" in "Meet Ada at 10 for tea"

    config.write_text(yaml.safe_dump({**settings, "word_count": {"minLength": "long"}}))
    checks = run_doctor(butler_env)
    assert checks["config"]["status"] == "warn"
    assert "butler.word_count.minLength: expected a whole number" in checks["config"]["detail"]
    assert checks["word_count"]["minLength"] == 1  # the default, as the server uses
