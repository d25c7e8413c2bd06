"""``butler-ls doctor``: the report's format and exit status, and each check on its own,
with fakes where the real thing depends on the machine (microphones, a running worker)."""

from __future__ import annotations

import argparse
import json
import os
import time
import types
from pathlib import Path

import pytest
import yaml

from butler_ls.doctor import checks as doctor_checks
from butler_ls.doctor import main as doctor
from butler_ls.doctor.checks import Check, probe_folder
from butler_ls.doctor.main import check_config, check_paths
from butler_ls.doctor.queue_checks import NO_WORKER, QueueTarget, check_queue, check_worker
from butler_ls.queue.jobs import SqliteJobBoard
from butler_ls.util.config import QueueSettings
from butler_ls.util.paths import Paths
from tests.helpers import load_plugin_module

audio_input = load_plugin_module("voice_input", "audio_input")
Segment = load_plugin_module("transcriber", "subtitles").Segment
Transcript = load_plugin_module("transcriber", "engine").Transcript
notes_checks = load_plugin_module("daily_writer", "doctor_checks")
check_notes = notes_checks.check_notes
check_audio = load_plugin_module("voice_input", "doctor_checks").check_audio
model_checks = load_plugin_module("transcriber", "doctor_checks")
ModelSettings = load_plugin_module("transcriber", "settings").ModelSettings
TranscriberSettings = load_plugin_module("transcriber", "settings").TranscriberSettings
NotesSettings = load_plugin_module("daily_writer", "settings").NotesSettings
SELFTEST_WAV, check_model = model_checks.SELFTEST_WAV, model_checks.check_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")


def write_config(paths: Paths, content: object) -> Path:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else yaml.safe_dump(content)
    paths.config_file.write_text(text)
    return paths.config_file


# -- the report ----------------------------------------------------------------------


def test_text_lines_start_with_the_status_and_end_with_the_fix():
    ok = Check("model", "ok", "tiny.en loads", fix="never shown")
    warn = Check("worker", "warn", "no worker", fix="start one", lines=["a", "b"])
    assert ok.render() == "OK   model: tiny.en loads"
    assert warn.render().splitlines() == [
        "WARN worker: no worker",
        "     a",
        "     b",
        "     fix: start one",
    ]
    assert Check("audio", "fail", "no mic", "plug one").render().startswith("FAIL audio: no mic")


def test_json_has_fix_only_when_not_ok_and_keeps_extra_fields():
    ok = Check("model", "ok", "fine", fix="unused", data={"loadMs": 12.5, "name": "clash"})
    fail = Check("audio", "fail", "no mic", fix="plug one", data={"devices": []})
    assert ok.to_json() == {"name": "model", "status": "ok", "detail": "fine", "loadMs": 12.5}
    assert fail.to_json()["fix"] == "plug one" and fail.to_json()["devices"] == []
    report = doctor.report_json([ok, fail])
    assert report["ok"] is False and [c["name"] for c in report["checks"]] == ["model", "audio"]
    assert doctor.report_json([ok])["ok"] is True


def test_exit_status_is_one_only_when_a_check_fails():
    assert doctor.exit_status([Check("a", "ok", ""), Check("b", "warn", "", "x")]) == 0
    assert doctor.exit_status([Check("a", "ok", ""), Check("b", "fail", "", "x")]) == 1
    assert doctor.summary([Check("a", "ok", ""), Check("b", "fail", "", "x")]) == "1 OK, 1 FAIL"


@pytest.mark.parametrize("as_json", [True, False])
def test_main_prints_only_the_report_and_returns_the_status(monkeypatch, capsys, as_json):
    checks = [Check("config", "ok", "fine"), Check("audio", "fail", "no mic", "plug one")]
    monkeypatch.setattr(
        doctor, "run_checks", lambda paths, workspace, settings, quick: iter(checks)
    )
    code = doctor.main(argparse.Namespace(json=as_json, workspace=None))
    out = capsys.readouterr().out
    assert code == 1
    if as_json:
        assert json.loads(out)["checks"][1] == {
            "name": "audio",
            "status": "fail",
            "detail": "no mic",
            "fix": "plug one",
        }
    else:
        assert out.splitlines()[:3] == [
            "OK   config: fine",
            "FAIL audio: no mic",
            "     fix: plug one",
        ]
        assert out.rstrip().endswith("1 OK, 1 FAIL")


def test_a_check_that_crashes_is_a_failure_not_a_crash():
    def broken() -> Check:
        raise RuntimeError("boom")

    check = doctor.guard("model", broken)
    assert check.status == "fail" and "RuntimeError: boom" in check.detail and check.fix


def test_the_command_line_takes_json_and_a_workspace(tmp_path: Path):
    from butler_ls.cli import build_parser

    args = build_parser().parse_args(["doctor", "--json", "--workspace", str(tmp_path)])
    assert args.command == "doctor" and args.json and args.workspace == tmp_path


# -- config, paths, notes ------------------------------------------------------------


def test_no_config_file_is_fine(paths: Paths):
    check, settings = check_config(paths)
    assert check.status == "ok" and "using the defaults" in check.detail
    assert settings.get(ModelSettings).name == "tiny.en"


def test_a_bad_key_is_named_with_the_file(paths: Paths):
    path = write_config(paths, {"notse": {"directory": "x"}, "model": {"name": "base.en"}})
    check, settings = check_config(paths)
    assert check.status == "warn"
    assert "butler.notse" in check.detail and str(path) in check.detail
    assert str(path) in check.fix
    assert settings.get(ModelSettings).name == "base.en"  # the good keys still count


def test_several_problems_are_listed_one_a_line(paths: Paths):
    write_config(paths, {"notse": 1, "model": {"device": "tpu"}})
    check, _ = check_config(paths)
    assert check.detail.startswith("2 problems in")
    assert any("butler.model.device" in line for line in check.lines)
    assert len(check.to_json()["problems"]) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a: [1,\n", "invalid YAML at line"), ("- just\n- a list\n", "expected a mapping")],
)
def test_a_file_that_is_not_settings_yaml_is_a_warning(paths: Paths, text, expected):
    write_config(paths, text)
    check, _ = check_config(paths)
    assert check.status == "warn" and expected in check.detail
    assert "delete it" in check.fix


def test_sections_of_plugins_the_server_would_load_are_not_unknown(paths: Paths):
    plugin = REPO / "docs" / "examples" / "word_count"
    write_config(paths, {"plugins": {"paths": [str(plugin)]}, "word_count": {"countNumbers": 0}})
    check, settings = check_config(paths)
    # Known section, wrong type: named as the server names it.
    assert check.status == "warn" and "butler.word_count.countNumbers" in check.detail
    assert "unknown" not in check.detail
    assert settings.section("word_count").count_numbers is True


def test_probe_folder_tries_for_real(tmp_path: Path, monkeypatch):
    assert probe_folder(tmp_path) == (True, None)
    assert probe_folder(tmp_path / "new" / "deeper") == (False, None)
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing behind
    blocker = tmp_path / "file"
    blocker.write_text("")
    exists, problem = probe_folder(blocker / "notes")
    assert not exists and "is a file, not a folder" in problem

    def denied(**kwargs):
        raise PermissionError(13, "Permission denied")

    # Root ignores permission bits, so the denial is simulated.
    monkeypatch.setattr(doctor_checks.tempfile, "mkstemp", denied)
    assert probe_folder(tmp_path) == (True, "cannot create files: Permission denied")


def test_paths_fail_when_the_data_folder_cannot_take_files(tmp_path: Path):
    (tmp_path / "data").write_text("not a folder")
    check = check_paths(Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data"))
    assert check.status == "fail" and "XDG_DATA_HOME" in check.fix
    assert check_paths(Paths(tmp_path / "c", tmp_path / "d")).status == "ok"


def test_notes_folder_resolves_like_the_daily_writer(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    workspace = tmp_path / "ws"
    notes_directory = notes_checks.notes_directory
    assert notes_directory(NotesSettings(), workspace) == workspace / "notes" / "daily"
    assert notes_directory(NotesSettings(), None) == tmp_path / "home" / "notes" / "daily"
    relative = NotesSettings(directory="journal")
    assert notes_directory(relative, workspace) == workspace / "journal"
    home = NotesSettings(directory="~/n")
    assert notes_directory(home, workspace) == tmp_path / "home" / "n"


def test_notes_folder_that_cannot_take_files_fails_with_a_fix(tmp_path: Path, monkeypatch):
    (tmp_path / "blocker").write_text("")
    check = check_notes(NotesSettings(directory=str(tmp_path / "blocker" / "daily")), None)
    assert check.status == "fail" and "notes.directory" in check.fix

    def denied(**kwargs):
        raise PermissionError(13, "Permission denied")

    (tmp_path / "notes").mkdir()
    monkeypatch.setattr(doctor_checks.tempfile, "mkstemp", denied)
    check = check_notes(NotesSettings(directory=str(tmp_path / "notes")), None)
    assert check.status == "fail" and "Permission denied" in check.detail


def test_notes_fail_on_an_unreadable_template_and_warn_about_an_escaping_pattern(tmp_path: Path):
    folder = str(tmp_path / "notes")
    assert check_notes(NotesSettings(directory=folder), None).status == "ok"
    # Without it, new notes start from the built-in template: the user's is not in effect.
    missing = check_notes(NotesSettings(directory=folder, template="tpl.md"), tmp_path)
    assert missing.status == "fail" and "notes.template" in missing.detail
    assert str(tmp_path / "tpl.md") in missing.detail and "notes.template" in missing.fix
    escaping = check_notes(NotesSettings(directory=folder, filename_format="../%Y.md"), None)
    assert escaping.status == "warn" and "notes.filenameFormat" in escaping.detail


# -- audio ---------------------------------------------------------------------------


def device(index: int, name: str, default: bool = False) -> audio_input.InputDevice:
    return audio_input.InputDevice(index, name, "ALSA", 2, 48000, default)


def fake_audio(devices=(), rates=(16000, 48000), missing: bool = False):
    """A stand-in for voice_input's audio_input, with its real error, hint and matching."""

    def portaudio():
        if missing:
            raise audio_input.AudioInputError(
                f"PortAudio is not available (no libportaudio); {audio_input.INSTALL_HINT}"
            )

    def find_input_device(spec):
        found = audio_input._match(list(devices), spec)
        if found is None:
            raise audio_input.AudioInputError(f"audio.device: no input device matches {spec!r}")
        return found

    return types.SimpleNamespace(
        AudioInputError=audio_input.AudioInputError,
        INSTALL_HINT=audio_input.INSTALL_HINT,
        COMMON_RATES=audio_input.COMMON_RATES,
        portaudio=portaudio,
        input_devices=lambda: list(devices),
        find_input_device=find_input_device,
        supported_rates=lambda d: list(rates),
    )


def test_no_portaudio_fails_with_the_install_command():
    check = check_audio(None, fake_audio(missing=True))
    assert check.status == "fail" and "PortAudio is not available" in check.detail
    assert "apt install libportaudio2" in check.fix


def test_no_input_device_fails_as_no_microphone():
    check = check_audio(None, fake_audio(devices=[]))
    assert check.status == "fail" and check.detail.startswith("no microphone")
    assert "audio.device" in check.fix and check.to_json()["devices"] == []


def test_devices_are_listed_with_rates_and_the_selected_one_marked():
    devices = [device(0, "pulse"), device(3, "USB Mic", default=True)]
    check = check_audio("usb", fake_audio(devices))
    assert check.status == "ok" and "'USB Mic'" in check.detail
    listed = check.to_json()["devices"]
    assert [d["selected"] for d in listed] == [False, True]
    assert listed[1]["rates"] == [16000, 48000] and check.to_json()["selected"] == 3
    assert check.lines[1].startswith("* 3 'USB Mic'") and check.lines[0].startswith("  0")
    assert "default input" in check_audio(None, fake_audio(devices)).detail


def test_an_audio_device_that_matches_nothing_fails_naming_the_setting():
    check = check_audio("Blue Yeti", fake_audio([device(0, "pulse", default=True)]))
    assert check.status == "fail" and "audio.device" in check.detail
    assert "audio.device" in check.fix and len(check.lines) == 1


def test_a_device_without_usable_rates_is_a_warning():
    check = check_audio(None, fake_audio([device(0, "odd", default=True)], rates=()))
    assert check.status == "warn" and "accepts none of" in check.detail


def test_the_real_audio_check_answers_on_this_machine():
    check = check_audio(None)
    assert check.status in ("ok", "warn", "fail") and check.detail
    assert check.status == "ok" or check.fix


# -- model ---------------------------------------------------------------------------


class FakeEngine:
    """Stands in for the transcription engine: hears ``text``, or fails to load."""

    def __init__(self, text: str = "Go forward 10 meters.", error: Exception | None = None):
        self.text, self.error = text, error

    def model(self, spec, **kwargs):
        if self.error is not None:
            raise self.error
        return object()

    def transcribe(self, audio, model, options):
        assert options.language == "en"  # the recording is English, whatever the settings
        return Transcript([Segment(0.0, 2.0, self.text)], "en", len(audio) / 16000)


CPU = {"device": "cpu", "compute_type": "int8"}


def test_the_self_test_recording_ships_with_its_source():
    assert SELFTEST_WAV.is_file() and SELFTEST_WAV.stat().st_size > 50_000
    readme = (SELFTEST_WAV.parent / "README.md").read_text()
    assert "selftest.wav" in readme and "BSD" in readme


def test_model_that_hears_the_phrase_is_ok_with_timings():
    check = check_model(ModelSettings(**CPU), FakeEngine("Go forward 10 meters."))
    assert check.status == "ok" and check.data["wer"] == 0.0
    assert check.data["loadMs"] >= 0 and check.data["transcribeMs"] >= 0
    assert 2.5 < check.data["audioSeconds"] < 3.5


def test_the_model_check_lists_the_models_installed_and_what_the_one_in_use_hears(
    tmp_path: Path,
):
    check = check_model(ModelSettings(**CPU), FakeEngine(), models_dir=tmp_path / "models")
    assert check.data["languages"] == ["en"]
    assert check.data["installed"][0] == {
        "name": "tiny.en",
        "source": "bundled",
        "state": "installed",
        "languages": ["en"],
    }
    assert check.lines[0].startswith("installed: tiny.en (bundled, installed, English only)")
    assert check.lines[1] == "in use: tiny.en, which hears English only"
    assert not (tmp_path / "models").exists()  # listing models creates nothing


def test_model_that_mishears_is_a_warning():
    check = check_model(ModelSettings(**CPU), FakeEngine("the weather is nice"))
    assert check.status == "warn" and "the weather is nice" in check.detail


def test_a_missing_model_fails_with_the_way_out(tmp_path: Path):
    check = check_model(ModelSettings(name=str(tmp_path / "nope"), **CPU), FakeEngine())
    assert check.status == "fail" and "does not exist" in check.detail and "tiny.en" in check.fix


def test_a_model_that_does_not_load_fails():
    ModelError = load_plugin_module("transcriber", "models").ModelError

    engine = FakeEngine(error=ModelError("cannot load the model at /m on cpu"))
    check = check_model(ModelSettings(**CPU), engine)
    assert check.status == "fail" and "model.computeType" in check.fix


# -- queue and worker ----------------------------------------------------------------


def test_sqlite_queue_not_created_yet_is_fine(paths: Paths):
    check, target = check_queue(QueueSettings(), paths)
    assert check.status == "ok" and "not created yet" in check.detail
    assert target is not None and target.board is None
    assert not paths.queue_dir.exists()  # the doctor creates nothing


def test_sqlite_queue_in_use_reports_its_jobs(tmp_path: Path, paths: Paths):
    SqliteJobBoard(tmp_path / "q").close()
    check, target = check_queue(QueueSettings(directory=str(tmp_path / "q")), paths)
    assert check.status == "ok" and check.data["pending"] == 0 and target.board is not None


def test_a_damaged_job_board_fails_with_a_fix(tmp_path: Path, paths: Paths):
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "jobs.db").write_bytes(b"not a database" * 100)
    check, target = check_queue(QueueSettings(directory=str(tmp_path / "q")), paths)
    assert check.status == "fail" and "jobs.db" in check.fix and target is None


def test_redis_without_url_fails(paths: Paths):
    check, target = check_queue(QueueSettings(backend="redis"), paths)
    assert check.status == "fail" and "queue.url" in check.detail and target is None


def test_unreachable_redis_fails_without_showing_the_password(paths: Paths):
    url = "redis://:hunter2@127.0.0.1:1/0"
    check, _ = check_queue(QueueSettings(backend="redis", url=url), paths)
    assert check.status == "fail" and "redis://:***@127.0.0.1:1/0" in check.detail
    assert "hunter2" not in json.dumps(check.to_json())


def test_no_worker_is_a_warning_that_says_the_server_starts_one(tmp_path: Path):
    target = QueueTarget("sqlite", tmp_path)
    check = check_worker(target)
    assert check.status == "warn" and check.detail == NO_WORKER
    board = SqliteJobBoard(tmp_path)
    board.heartbeat("gone", {})  # a heartbeat from a process that no longer exists
    board._connection().execute("update worker set pid = 2147483646")
    assert check_worker(QueueTarget("sqlite", tmp_path, board=board)).detail == NO_WORKER
    assert check_worker(None).status == "warn"


def test_a_worker_that_never_answers_fails_and_leaves_nothing_behind(tmp_path: Path):
    board = SqliteJobBoard(tmp_path)
    board.heartbeat("silent", {"models": ["tiny.en"]})  # our own pid: alive, but no consumer
    before = set(os.listdir(tmp_path))
    check = check_worker(QueueTarget("sqlite", tmp_path, board=board), timeout=0.3)
    assert check.status == "fail" and "did not start an echo job" in check.detail
    assert check.to_json()["workers"][0]["models"] == ["tiny.en"]
    assert not [n for n in set(os.listdir(tmp_path)) - before if n.startswith("inbox-")]
    (job_id,) = [env.job_id for env in board.queued()]
    assert board.is_cancelled(job_id)  # the worker will skip it


def test_a_reachable_redis_queue_and_a_remote_worker_that_never_answers(paths: Paths, redis_url):
    check, target = check_queue(QueueSettings(backend="redis", url=redis_url), paths)
    assert check.status == "ok" and check.data["url"] == redis_url and check.data["pending"] == 0
    assert check_worker(target).detail == NO_WORKER
    target.board.heartbeat("far-away", {})
    target.board.redis.set(  # as if it came from another machine: its pid is not ours to check
        "butler:worker:far-away", json.dumps({"pid": 1, "host": "elsewhere", "beat": time.time()})
    )
    check = check_worker(target, timeout=0.3)
    assert check.status == "fail" and "on elsewhere" in check.detail
    assert not target.board.redis.keys("butler:wake:*")


def test_editor_settings_are_checked_over_the_file(paths: Paths, tmp_path: Path):
    write_config(paths, {"notes": {"directory": str(tmp_path / "from-file")}})
    check, settings = doctor.check_config(
        paths, {"notes.directory": str(tmp_path / "from-editor"), "notse": {}}
    )
    assert settings.get(NotesSettings).directory == str(tmp_path / "from-editor")
    assert check.status == "warn" and "notse" in check.detail
    assert "editor settings" in check.detail and "editor settings" in check.fix


def test_settings_option_must_be_a_json_object():
    parser = argparse.ArgumentParser()
    doctor.add_arguments(parser)
    assert parser.parse_args(["--settings", '{"audio": {"device": 2}}']).settings == {
        "audio": {"device": 2}
    }
    for bad in ("[1, 2]", "{not json"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--settings", bad])


# -- plugins' own checks -------------------------------------------------------------

BUILTIN = ["daily_writer", "task_queue", "transcriber", "voice_input"]


def make_plugin(folder: Path, plugin_id: str, doctor_code: str, doctor_key: str = "") -> Path:
    """A plugin folder whose ``doctor_checks.py`` holds ``doctor_code``."""
    plugin = folder / plugin_id
    plugin.mkdir(parents=True)
    manifest = {"id": plugin_id, "name": plugin_id, "version": "1.0", "entry": "plugin"}
    manifest["doctor"] = doctor_key or "doctor_checks:checks"
    (plugin / "plugin.yaml").write_text(yaml.safe_dump(manifest))
    (plugin / "plugin.py").write_text("def activate(ctx):\n    pass\n")
    (plugin / "doctor_checks.py").write_text(doctor_code)
    return plugin


FINE = """
from butler_ls.doctor.checks import Check

def checks(ctx):
    return [Check("fine_doc", "ok", f"quick={ctx.quick} setting={ctx.plugin_settings}")]
"""


def run_plugins(paths: Paths, folder: Path, disabled=BUILTIN, workspace=None, quick=False):
    from butler_ls.doctor.plugin_checks import discover, plugin_checks
    from butler_ls.util.config import PluginsSettings, Settings

    settings = Settings(plugins=PluginsSettings(disabled=list(disabled), paths=[str(folder)]))
    manager = discover(paths, settings.plugins.paths)
    return list(plugin_checks(manager, settings, paths, workspace, quick))


def test_a_plugin_whose_doctor_module_raises_on_import_is_one_fail_naming_it(
    tmp_path: Path, paths: Paths
):
    make_plugin(tmp_path / "extra", "broken_doc", "raise RuntimeError('no cheese today')\n")
    make_plugin(tmp_path / "extra", "fine_doc", FINE)
    checks = run_plugins(paths, tmp_path / "extra", quick=True)
    assert [c.name for c in checks] == ["broken_doc", "fine_doc"]
    broken, fine = checks
    assert broken.status == "fail" and "plugin broken_doc" in broken.detail
    assert "RuntimeError: no cheese today" in broken.detail
    assert "plugins.disabled: [broken_doc]" in broken.fix
    assert fine.status == "ok" and fine.detail == "quick=True setting={}"  # the others still run


@pytest.mark.parametrize(
    ("code", "key", "expected"),
    [
        ("def checks(ctx):\n    raise ValueError('bad day')\n", "", "ValueError: bad day"),
        ("def checks(ctx):\n    return ['not a check']\n", "", "returned str, not Check"),
        ("", "doctor_checks:nowhere", "has no attribute nowhere"),
        ("import sys\nsys.exit(3)\n", "", "SystemExit: 3"),
    ],
)
def test_doctor_functions_that_break_are_each_one_fail(
    tmp_path: Path, paths: Paths, code, key, expected
):
    plugin_id = f"odd_doc{len(code)}_{len(key)}"  # each its own: modules stay imported
    make_plugin(tmp_path / "extra", plugin_id, code, key)
    (check,) = run_plugins(paths, tmp_path / "extra")
    assert check.name == plugin_id and check.status == "fail" and expected in check.detail


def test_disabled_plugins_and_their_dependents_run_no_checks(tmp_path: Path, paths: Paths):
    make_plugin(tmp_path / "extra", "fine_doc", FINE)
    assert run_plugins(paths, tmp_path / "extra", disabled=[*BUILTIN, "fine_doc"]) == []
    names = [c.name for c in run_plugins(paths, tmp_path / "extra", disabled=["task_queue"])]
    # transcriber requires task_queue and voice_input requires transcriber: the server
    # would start neither, so their checks (model, audio) do not run either.
    assert names == ["notes", "fine_doc"]


def test_builtin_checks_come_from_their_plugins_in_the_familiar_order(monkeypatch, paths: Paths):
    from butler_ls.doctor import plugin_checks

    found = {}
    names = {"daily_writer": "notes", "transcriber": "model", "voice_input": "audio"}

    def fake_run(manifest, module_name, context):
        found[manifest.id] = context
        return [Check(names[manifest.id], "ok", manifest.id)]

    monkeypatch.setattr(plugin_checks, "run_plugin", fake_run)
    checks = list(doctor.run_checks(paths, None))
    # Activation order runs transcriber (model) before voice_input (audio); the report
    # keeps the order editors know.
    assert list(found) == ["daily_writer", "transcriber", "voice_input"]
    assert [c.detail for c in checks[2:5]] == ["daily_writer", "voice_input", "transcriber"]
    assert found["transcriber"].plugin_settings == TranscriberSettings(max_file_mb=500)
    assert found["daily_writer"].settings.get(ModelSettings).name == "tiny.en"


def test_checks_of_other_plugins_follow_the_worker(monkeypatch, paths: Paths):
    familiar = [Check("model", "ok", ""), Check("word_count", "warn", "", "x")]
    familiar += [Check("notes", "ok", ""), Check("audio", "ok", "")]
    monkeypatch.setattr(doctor, "guarded_plugin_checks", lambda *args: familiar)
    names = [check.name for check in doctor.run_checks(paths, None)]
    assert names == ["config", "paths", "notes", "audio", "model", "queue", "worker", "word_count"]


@pytest.mark.parametrize("value", ["doctor_checks", "doctor-checks:checks", 3, "a:b:c"])
def test_the_doctor_key_must_name_a_module_and_a_function(value):
    from butler_ls.host.manifest import parse_manifest
    from butler_ls.util.errors import ManifestError

    base = {"id": "p", "name": "P", "version": "1", "entry": "plugin"}
    assert parse_manifest({**base, "doctor": "checks.doctor:run"}, file="x").doctor == (
        "checks.doctor:run"
    )
    with pytest.raises(ManifestError, match=r"doctor.*module:function"):
        parse_manifest({**base, "doctor": value}, file="x")


def test_quick_skips_the_model_self_test():
    check = model_checks.check_model(
        ModelSettings(**CPU), FakeEngine(error=AssertionError()), quick=True
    )
    assert check.status == "ok" and "skipped" in check.detail and "loadMs" not in check.data
