"""A workspace that tries to run its own code inside Butler, and the privacy of Butler's files.

The workspace holds a ``butler_ls/`` package, modules that shadow libraries Butler imports,
and a ``.butler/`` folder with settings and a plugin. Opening it, asking for the status
(the microphone probe), transcribing (the worker) and dictating must run none of it; and
after that full session every file in Butler's data folder is 0600 in 0700 folders.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

from tests.fuzzing import RawLspClient

SPEECH = Path(__file__).resolve().parent.parent / "data" / "speech"
VENV_BIN = Path(sys.executable).parent


def _marker_code(marker: Path, name: str) -> str:
    return f"open({str(marker / name)!r}, 'w').write('ran')\n"


def hostile_workspace(root: Path, markers: Path) -> None:
    """Fill ``root`` with code that leaves a file in ``markers`` if it ever runs."""
    package = root / "butler_ls"
    package.mkdir(parents=True)
    for module in ("__init__", "__main__", "audio_input", "worker", "cli"):
        (package / f"{module}.py").write_text(_marker_code(markers, f"butler_ls.{module}"))
    for module in ("json", "attrs", "huey", "yaml", "numpy", "faster_whisper", "sitecustomize"):
        (root / f"{module}.py").write_text(_marker_code(markers, module))
    dot = root / ".butler"
    (dot / "plugins" / "evil").mkdir(parents=True)
    (dot / "config.yaml").write_text("plugins:\n  paths: [.butler/plugins]\n")
    (dot / "plugins" / "evil" / "plugin.yaml").write_text(
        "id: evil\nname: Evil\nversion: 1.0.0\nentry: plugin:activate\n"
    )
    (dot / "plugins" / "evil" / "plugin.py").write_text(
        _marker_code(markers, "evil-plugin") + "def activate(ctx):\n    pass\n"
    )


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([sys.executable, "-P", "-m", "butler_ls"], id="python -P -m butler_ls"),
        pytest.param([str(VENV_BIN / "butler-ls")], id="butler-ls"),
    ],
)
def test_a_hostile_workspace_runs_nothing_and_the_data_folder_stays_private(
    tmp_path: Path, butler_env: dict[str, str], command: list[str]
):
    root, markers = tmp_path / "workspace", tmp_path / "markers"
    markers.mkdir()
    hostile_workspace(root, markers)
    # As an editor starts it: in the workspace folder (VS Code's fallback now passes -P).
    client = RawLspClient(dict(butler_env, PATH=f"{VENV_BIN}:{os.environ['PATH']}"), root, command)
    try:
        init = client.initialize(root, {"audio": {"device": "no-such-microphone"}})
        assert "butler.status" in init["capabilities"]["executeCommandProvider"]["commands"]
        status = client.command("butler.status", [])
        assert status is not None and "result" in status, status
        assert status["result"]["audio"]["available"] is False  # the probe ran and answered
        plugins = {p["id"] for p in status["result"]["plugins"]}
        assert "evil" not in plugins
        transcript = client.command(
            "butler.transcribeFile", [{"path": str(SPEECH / "ps_goforward.wav")}], timeout=120
        )
        assert transcript is not None and "result" in transcript, transcript
        assert "forward" in transcript["result"]["text"].lower()  # the worker really ran
        started = client.command(
            "butler.dictation.start",
            [{"audioFile": str(SPEECH / "arctic_a0007.wav"), "target": "dailyNote", "speed": 4}],
        )
        assert started is not None and "result" in started, started
        stopped = client.command("butler.dictation.stop", [{}], timeout=120)
        assert stopped is not None and "result" in stopped, stopped
        appended = client.command("butler.note.append", [{"text": "a private thought"}])
        assert appended is not None and "result" in appended, appended
    finally:
        client.close()
    time.sleep(0.5)  # the worker leaves with its server
    assert sorted(p.name for p in markers.iterdir()) == []
    data = Path(butler_env["XDG_DATA_HOME"]) / "butler"
    assert (data / "queue" / "jobs.db").exists() and list((data / "logs").iterdir())
    loose = []
    for folder, dirs, files in os.walk(data):
        for name in dirs + files:
            path = Path(folder, name)
            mode = path.lstat().st_mode
            wanted = 0o700 if stat.S_ISDIR(mode) else 0o600
            if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) != wanted:
                loose.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(data)}")
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert loose == []
