"""Fuzzed command arguments against the real butler-ls over stdio (hypothesis, fixed seed).

Every request gets an answer, none is an internal error, no plugin changes state, and
nothing is written outside the notes folder and Butler's data folder. A longer run with
a random seed: ``python benchmarks/fuzz.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import (
    INTERNAL_ERROR,
    RawLspClient,
    command_arguments,
    deep,
    plausible_arguments,
    tree,
)

EXAMPLES = int(os.environ.get("BUTLER_FUZZ_EXAMPLES", "250"))


@attrs.define
class Session:
    client: RawLspClient
    commands: list[str]
    root: Path
    notes: Path
    data: Path
    baseline: dict[str, str]
    before: set[str]
    skip: tuple[Path, ...]
    answered: int = 0

    def states(self) -> dict[str, str]:
        answer = self.client.command("butler.plugins.list", [], timeout=10)
        assert answer is not None and "result" in answer, answer
        return {p["id"]: p["state"] for p in answer["result"]["plugins"]}

    def outside(self) -> set[str]:
        """Files now under the test's folder but outside the notes and data folders."""
        return tree(self.root.parent, skip=self.skip) - self.before


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    base = tmp_path_factory.mktemp("fuzz")
    home, root = base / "home", base / "workspace"
    root.mkdir()
    (home / ".config").mkdir(parents=True)  # as in any home folder
    (root / "readme.md").write_text("# a workspace\n")
    env = dict(
        os.environ,
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        HF_HUB_OFFLINE="1",
    )
    client = RawLspClient(env, cwd=root)
    # No microphone can open: dictation without audioFile answers an error, never listens.
    init = client.initialize(root, {"audio": {"device": "no-such-microphone-for-fuzzing"}})
    commands = sorted(init["capabilities"]["executeCommandProvider"]["commands"])
    notes = root / "notes"
    data = home / ".local" / "share" / "butler"
    # libpulse (under PortAudio, probing for a microphone) keeps its cookie in ~/.config/pulse.
    skip = (notes, data, home / ".config" / "pulse")
    created = Session(client, commands, root, notes, data, {}, tree(base, skip=skip), skip)
    created.baseline = created.states()
    assert set(created.baseline.values()) == {"active"}, created.baseline
    yield created
    client.close()


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_fuzzed_arguments_are_answered_and_switch_nothing_off(session: Session, data: Any):
    command = data.draw(st.sampled_from(session.commands), label="command")
    arguments = data.draw(plausible_arguments(command) | command_arguments(), label="arguments")
    answer = session.client.command(command, arguments, timeout=30)
    assert answer is not None, f"{command} got no answer within 30 s"
    session.answered += 1
    error = answer.get("error")
    assert not (error and error["code"] == INTERNAL_ERROR), error
    if error:
        assert len(error["message"]) < 2000  # a bad value is never echoed whole
    assert session.states() == session.baseline


@pytest.mark.parametrize(
    ("command", "arguments"),
    [
        ("butler.note.append", [{"text": "x" * 10_000_000}]),
        ("butler.note.append", [{"text": "\ud800"}]),
        ("butler.note.append", [{"text": "a", "date": "9999-12-31"}]),
        ("butler.note.open", [{"date": "9999-12-31"}]),
        ("butler.note.open", [{"date": "1" * 4301}]),
        ("butler.dictation.start", [{"position": {"line": 2**31, "character": 0}}]),
        ("butler.dictation.start", [{"audioFile": "a" * 300}]),
        ("butler.dictation.start", [{"audioFile": "/dev/zero", "target": "dailyNote"}]),
        ("butler.transcribeFile", [{"path": "b" * 300}]),
        ("butler.transcribeFile", [{"path": "/dev/zero"}]),
        (
            "butler.transcribeFile",
            [{"path": "readme.md", "target": "cursor", "position": {"line": -1, "character": 0}}],
        ),
        ("butler.note.append", 5),
        ("butler.note.append", True),
    ],
)
def test_the_reported_cases_answer_invalid_params_and_switch_nothing_off(
    session: Session, command: str, arguments: Any
):
    answer = session.client.command(command, arguments, timeout=60)
    assert answer is not None, f"{command} got no answer"
    assert "error" in answer, answer
    assert answer["error"]["code"] in (-32602, -32803), answer["error"]
    assert len(answer["error"]["message"]) < 2000
    assert session.states() == session.baseline


@pytest.mark.parametrize("arguments", [deep(2000), "[" + deep(2000) + "]", "5", "true"])
def test_arguments_too_deep_or_not_a_list_are_answered(session: Session, arguments: str):
    answer = session.client.command_json("butler.status", arguments, timeout=30)
    assert answer is not None, "no answer"
    assert answer.get("error", {}).get("code") in (-32602, -32600), answer
    assert session.states() == session.baseline


def test_an_unknown_command_with_a_huge_name_is_answered_briefly(session: Session):
    answer = session.client.command("butler.nothing." + "q" * 900_000, [], timeout=30)
    assert answer is not None and answer["error"]["code"] == -32803, answer
    assert len(answer["error"]["message"]) < 400
    log = session.data / "logs" / "butler-ls.log"
    assert log.stat().st_size < 500_000  # the name is not logged whole either


def test_after_fuzzing_everything_still_works_and_nothing_was_written_outside(
    session: Session,
):
    answer = session.client.command("butler.note.append", [{"text": "still here"}])
    assert answer is not None and "result" in answer, answer
    note = Path(answer["result"]["path"])
    assert "still here" in note.read_text()
    assert session.notes in note.parents
    status = session.client.command("butler.status", [])
    assert status is not None and "result" in status
    assert session.outside() == set()
    # The journal holds nothing that waits forever.
    journals = list((session.data / "plugin-data").rglob("journal-*.jsonl"))
    assert all("still here" not in j.read_text() for j in journals)
