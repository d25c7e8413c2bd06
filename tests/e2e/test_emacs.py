"""The Emacs client (editors/emacs/butler.el) end to end: a real Emacs (Debian's emacs-nox
with elpa-eglot, in batch) loads the guide's own init block (docs/editors/emacs.md) and
drives the real butler-ls from the virtualenv the way a user does, through `M-x`
commands and the hooks the guide sets. tests/e2e/emacs_driver.el runs the steps once for
the module and writes what it saw; each test below asserts on one step."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from butler_ls.util.word_errors import wer
from tests.conftest import environment_for
from tests.guides import guide_block

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("emacs_driver.el")
RECORDING = REPO / "tests" / "data" / "speech" / "ps_goforward.wav"
REFERENCE = "go forward ten meters"
BIN = Path(sys.executable).parent
ENTRY = re.compile(r"^- \d\d:\d\d (.*)$", re.MULTILINE)


def emacs_binary() -> str:
    """Debian's emacs (installed by `make setup`), or the one named by BUTLER_TEST_EMACS."""
    found = os.environ.get("BUTLER_TEST_EMACS") or shutil.which("emacs")
    if found is None:
        pytest.fail("emacs is not installed; `make setup` installs emacs-nox and elpa-eglot")
    return found


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the guide's configuration and the driver in one real Emacs; its report."""
    root = tmp_path_factory.mktemp("emacs")
    home = root / "home"
    project = root / "project"
    other = root / "other"
    for folder in (home, project, other):
        folder.mkdir()
    # The user's init file: the guide's block as written, the clone path being ours.
    init = guide_block("emacs-init").replace("~/src/butler", str(REPO))
    (home / ".emacs.d").mkdir()
    (home / ".emacs.d" / "init.el").write_text(init)
    # A project (git) with a draft, and another whose .dir-locals.el is the guide's.
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    (project / "draft.md").write_text("# Draft\n\nNotes:\n")
    (other / "plan.md").write_text("# Plan\n")
    (other / ".dir-locals.el").write_text(guide_block("emacs-dir-locals"))
    # The Lisp block's recording.
    shutil.copy(RECORDING, home / "memo.wav")
    lisp = root / "commands.el"
    lisp.write_text(guide_block("emacs-lisp-commands"))
    out = root / "report.json"

    env = environment_for(home)
    env.update(
        PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]),
        BUTLER_TEST_PROJECT=str(project),
        BUTLER_TEST_OTHER=str(other),
        BUTLER_TEST_RECORDING=str(RECORDING),
        BUTLER_TEST_LISP=str(lisp),
        BUTLER_TEST_REPORT=str(out),
    )
    # --batch neither activates installed packages (Debian's elpa-eglot, markdown-mode)
    # nor reads the init file: do both, as an interactive Emacs does at start.
    command = [emacs_binary(), "--batch", "--eval", "(package-activate-all)"]
    command += ["-l", str(home / ".emacs.d" / "init.el")]
    command += ["-l", str(DRIVER)]
    run = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    log = (run.stdout + run.stderr)[-4000:]
    if not out.exists():
        pytest.fail(f"Emacs wrote no report (exit {run.returncode}):\n{log}")
    found = json.loads(out.read_text())
    found["_log"] = log
    found["_home"] = str(home)
    found["_other"] = str(other)
    return found


def step(report: dict[str, Any], name: str) -> Any:
    value = report.get(name)
    if value is None:
        pytest.fail(f"the driver never ran the step {name!r}:\n{report['_log']}")
    if isinstance(value, dict) and "error" in value:
        pytest.fail(f"step {name!r} failed in Emacs: {value['error']}\n{report['_log']}")
    return value


def test_eglot_connects_with_the_guides_configuration(report):
    connect = step(report, "connect")
    assert connect["managed"] is True
    assert connect["serverClass"] == "butler-server"
    assert connect["serverName"] == "butler-ls"
    assert connect["majorMode"] == "markdown-mode"
    # butler-mode's lighter is the dictation state, and its prefix map is bound.
    assert connect["lighter"] == "(:eval (butler-mode-line))"
    assert connect["prefixBinding"] == "butler-today"


def test_todays_note_opens_in_the_same_server(report):
    today = step(report, "today")
    home = Path(report["_home"])
    assert today["path"] == str(home / "notes" / "daily" / f"{dt.date.today():%Y-%m-%d}.md")
    assert today["managed"] is True
    # The note is outside the project: it joined the running server (butler-join-notes)
    # instead of starting a second one.
    assert today["sameServer"] is True
    assert today["servers"] == 1


def test_an_entry_goes_into_the_open_buffer_and_is_saved_as_usual(report):
    append = step(report, "append")
    assert ENTRY.findall(append["buffer"]) == ["called the bank"]
    assert append["unsavedBefore"] is True  # an edit of the buffer, not a write under it
    assert ENTRY.findall(append["diskBefore"]) == []
    assert ENTRY.findall(append["diskAfterSave"]) == ["called the bank"]


def test_a_recording_dictated_at_point_lands_in_the_buffer(report):
    dictate = step(report, "dictate")
    text = dictate["text"]
    assert text.startswith("# Draft\n\nNotes: ")
    heard = text.split("Notes:", 1)[1]
    spoken = re.sub(r"\b10\b", "ten", heard.lower())
    assert wer(REFERENCE, re.sub(r"[^a-z' ]", " ", spoken)) <= 0.25, heard


def test_the_mode_line_shows_the_dictation_state(report):
    states = step(report, "dictate")["states"]
    lines = {s["state"]: s["modeLine"] for s in states}
    assert lines.get("listening", "").startswith(" Butler[listening"), states
    assert lines.get("idle") == " Butler", states
    assert any(
        s["modeLine"].startswith(" Butler[…") for s in states if s["state"] == "transcribing"
    ) or ("transcribing" not in lines), states


def test_errors_read_as_sentences(report):
    error = step(report, "error")
    assert error.startswith("Butler: date: 'blursday' is not a date Butler understands; use today")
    assert "jsonrpc" not in error and "request id" not in error
    not_served = step(report, "notServed")
    assert not_served.startswith("Butler does not serve this buffer: M-x eglot here")


def test_the_guides_lisp_commands_work_as_written(report):
    yesterday, transcribed, cancelled = step(report, "lispBlock")
    assert json.loads(yesterday)["date"] == (dt.date.today() - dt.timedelta(days=1)).isoformat()
    written = Path(urllib.parse.urlparse(json.loads(transcribed)["uri"]).path)
    assert written == Path(report["_home"]) / "memo.txt"
    assert (
        wer(REFERENCE, re.sub(r"[^a-z' ]", " ", written.read_text().lower().replace("10", "ten")))
        <= 0.25
    )
    assert cancelled == "Butler: no dictation is running; start one with butler.dictation.start"


def test_the_guides_dir_locals_reach_the_server(report):
    dir_locals = step(report, "dirLocals")
    assert dir_locals["notesDirectory"] == str(Path(report["_other"]) / "journal")
    assert dir_locals["servers"] == 2  # another project: a server of its own
