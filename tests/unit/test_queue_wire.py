"""The signed queue format: round trips, and every forgery refused without being unpickled."""

from __future__ import annotations

import datetime
import logging
import os
import pickle
import stat
from pathlib import Path

import attrs
import pytest
from huey.registry import Message

from butler_ls.queue.app import SignedHuey, make_huey
from butler_ls.queue.jobs import PRIORITY_VALUE, Envelope, SqliteJobBoard
from butler_ls.queue.tasks import TASK_NAME, Runner, enqueue, register
from butler_ls.queue.wire import KEY_FILE, KeyProblem, QueueKey, Rejected, load_key


class WritesMarker:
    """A pickle that, once loaded, writes a file: the proof that someone unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


@pytest.fixture
def key() -> QueueKey:
    return QueueKey(os.urandom(32), "test")


@pytest.fixture(autouse=True)
def no_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUTLER_QUEUE_KEY", raising=False)
    monkeypatch.delenv("BUTLER_QUEUE_KEY_FILE", raising=False)


def test_values_with_bytes_survive_a_round_trip(key: QueueKey):
    value = {
        "audio": b"\x00\x01\xff" * 1000,
        "pcm": {"data": b"RIFF", "sampleRate": 16000, "channels": 1},
        "when": datetime.datetime(2024, 5, 1, 12, 30, 5, 123456),
        "aware": datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC),
        "delay": datetime.timedelta(seconds=1.5),
        "pair": (1, "two"),
        "list": [1, 2.5, None, True, "x"],
        # Dictionaries that look like tags stay dictionaries.
        "$bytes": "not a tag here",
        "nested": {"$bytes": "a lone $ key is data, not a tag"},
    }
    assert key.open("job", key.sign("job", value)) == value


def test_a_huey_message_survives_a_round_trip(key: QueueKey, tmp_path: Path):
    huey = make_huey("sqlite", directory=tmp_path, key=key)
    message = Message(
        "id-1",
        "butler.run_job",
        datetime.datetime(2030, 1, 1),
        2,
        1.0,
        100,
        ({"job_id": "j", "payload": {"audio": b"\x00\x01"}},),
        {},
    )
    data = huey.serializer.serialize(message)
    assert b"\x80" not in data[:1] and data.startswith(b"butler1:")
    assert huey.serializer.deserialize(data) == message


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda blob: blob.replace(b'"kind":"echo"', b'"kind":"evil"'), id="body"),
        pytest.param(lambda blob: blob.rsplit(b":", 1)[1], id="no-signature"),
        pytest.param(lambda blob: b"butler1:abc:" + b"0" * 64 + b":{}", id="zero-signature"),
        pytest.param(lambda blob: blob[:-1], id="truncated"),
        pytest.param(lambda blob: b"", id="empty"),
    ],
)
def test_tampered_envelopes_are_refused(key: QueueKey, tamper):
    blob = key.sign("job", {"kind": "echo", "payload": {}})
    with pytest.raises(Rejected):
        key.open("job", tamper(blob))


def test_another_key_or_another_purpose_is_refused(key: QueueKey):
    blob = key.sign("job", {"kind": "echo"})
    other = QueueKey(os.urandom(32), "other")
    with pytest.raises(Rejected, match="signed with another key"):
        other.open("job", blob)
    with pytest.raises(Rejected, match="bad signature"):
        key.open("task", blob)  # a job record is not a queue message


def test_a_pickle_is_refused_and_never_loaded(key: QueueKey, tmp_path: Path):
    marker = tmp_path / "marker"
    blob = pickle.dumps({"kind": "echo", "x": WritesMarker(marker)})
    with pytest.raises(Rejected, match="pickle"):
        key.open("job", blob)
    huey = make_huey("sqlite", directory=tmp_path / "q", key=key)
    with pytest.raises(Rejected):
        huey.serializer.deserialize(pickle.dumps(WritesMarker(marker)))
    assert not marker.exists()


def test_a_message_that_quotes_nothing_of_the_data(key: QueueKey):
    with pytest.raises(Rejected) as caught:
        key.open("job", b'{"secret dictated text": 1}')
    assert "secret" not in str(caught.value)


def test_forged_job_records_are_ignored_logged_and_counted(
    key: QueueKey, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    marker = tmp_path / "marker"
    board = SqliteJobBoard(tmp_path / "queue", key=key)
    real = Envelope(kind="echo", payload={"value": 1}, reply_to="me")
    board.record(real)
    db = board._connection()
    forged = {
        "pickled": pickle.dumps({"kind": "echo", "x": WritesMarker(marker)}),
        "unsigned": b'{"kind":"echo","payload":{},"reply_to":"me","job_id":"unsigned"}',
        "foreign": QueueKey(os.urandom(32)).sign("job", {"kind": "echo", "reply_to": "me"}),
    }
    for job_id, blob in forged.items():
        db.execute("insert into job values (?, 'me', ?, 'queued', null, 0, 0, 0)", (job_id, blob))
    with caplog.at_level(logging.WARNING):
        assert [e.job_id for e, _ in board.jobs_of("me")] == [real.job_id]
        assert [e.job_id for e in board.queued()] == [real.job_id]
        assert board.envelope("pickled") is None
    assert not marker.exists()
    refused = [r for r in caplog.records if r.levelno == logging.WARNING]
    told = [r.getMessage().split("(", 1)[1].split(")", 1)[0] for r in refused]
    assert sorted(told) == sorted(forged)  # each told once, though read three times
    assert all("payload" not in r.getMessage() for r in refused)
    assert board.rejected() == 3
    board.close()


def test_forged_results_are_dropped_from_the_inbox(key: QueueKey, tmp_path: Path):
    board = SqliteJobBoard(tmp_path / "queue", key=key)
    job = Envelope(kind="echo", payload={}, reply_to="me")
    board.record(job)
    board.post(job, "final", {"text": "real"})
    board._connection().execute(
        "insert into inbox (reply_to, job_id, kind, idx, data) values "
        "('me', ?, 'final', 0, '{\"text\": \"forged\"}')",
        (job.job_id,),
    )
    assert [m.data for m in board.take("me")] == [{"text": "real"}]
    assert board.rejected() == 1
    assert len(board._connection().execute("select * from inbox").fetchall()) == 1
    board.close()


def test_the_worker_skips_forged_queue_messages_and_runs_signed_ones(key: QueueKey, tmp_path: Path):
    marker = tmp_path / "marker"
    board = SqliteJobBoard(tmp_path, key=key)
    refused: list[str] = []

    def on_rejected(where: str, why: str) -> None:  # as the worker does
        refused.append(why)
        board.refuse("a queue message", where, why)

    huey = make_huey("sqlite", directory=tmp_path, key=key, on_rejected=on_rejected)
    assert isinstance(huey, SignedHuey)
    ran: list[str] = []
    runner = Runner(board, "w1")
    runner.run = lambda envelope: ran.append(envelope.job_id)  # type: ignore[method-assign]
    task = register(huey, runner)
    huey.storage.enqueue(pickle.dumps(WritesMarker(marker)))
    huey.storage.enqueue(b'{"name": "butler.run_job", "args": [{}]}')
    real = Envelope(kind="echo", payload={}, reply_to="me")
    board.record(real)
    enqueue(task, real)
    assert [t.args for t in huey.pending()] == [(real.job_id,)]  # the id only, now
    huey.execute(huey.dequeue())
    assert ran == [real.job_id]
    assert huey.dequeue() is None
    assert not marker.exists()
    assert "pickle" in refused[0] and "not signed" in refused[1]
    assert board.rejected() == 2  # each counted once, though pending() saw them too


def test_the_key_is_made_once_private_and_shared(tmp_path: Path):
    first = load_key(tmp_path / "queue")
    path = tmp_path / "queue" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(tmp_path / "queue") == first
    path.chmod(0o644)
    assert load_key(tmp_path / "queue").secret == first.secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_remote_worker_takes_the_key_from_the_environment_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    original = load_key(tmp_path / "editor")
    text = (tmp_path / "editor" / KEY_FILE).read_text()
    monkeypatch.setenv("BUTLER_QUEUE_KEY", text.strip())
    assert load_key(tmp_path / "remote").secret == original.secret
    monkeypatch.delenv("BUTLER_QUEUE_KEY")
    copy = tmp_path / "copied.key"
    copy.write_text(text)
    assert load_key(tmp_path / "remote", key_file=copy).secret == original.secret
    assert not (tmp_path / "remote" / KEY_FILE).exists()
    monkeypatch.setenv("BUTLER_QUEUE_KEY", "not hex")
    with pytest.raises(KeyProblem, match="hex digits"):
        load_key(tmp_path / "remote")


def test_a_jobs_queue_message_holds_its_id_only(key: QueueKey, tmp_path: Path):
    """The payload (here audio) is on the board once; the message names the job."""
    board = SqliteJobBoard(tmp_path, key=key)
    huey = make_huey("sqlite", directory=tmp_path, key=key)
    task = register(huey)
    audio = os.urandom(4096)
    job = Envelope(kind="transcribe", payload={"data": audio}, reply_to="me", priority="batch")
    board.record(job)
    enqueue(task, job)
    (raw,) = huey.storage.enqueued_items()
    assert len(raw) < 1000 and b"transcribe" not in raw, "no payload, not even its kind"
    message = huey.serializer.deserialize(raw)
    assert message.name.endswith(TASK_NAME)
    assert (message.args, message.kwargs) == ((job.job_id,), {})
    assert message.priority == PRIORITY_VALUE["batch"]
    assert board.envelope(job.job_id).payload == {"data": audio}
    board.close()


def test_the_worker_runs_a_message_s_job_from_its_signed_record(key: QueueKey, tmp_path: Path):
    board = SqliteJobBoard(tmp_path, key=key)
    huey = make_huey("sqlite", directory=tmp_path, key=key)
    task = register(huey, Runner(board, "w1"))
    job = Envelope(kind="echo", payload={"value": 7}, reply_to="me")
    board.record(job)
    enqueue(task, job)
    huey.execute(huey.dequeue())
    assert [(m.kind, m.data.get("echo")) for m in board.take("me")] == [
        ("started", None),
        ("final", 7),
    ]
    # A record someone altered (here: signed by another key) is refused and counted.
    forged = Envelope(kind="echo", payload={"value": 8}, reply_to="me")
    board.record(forged)
    board._connection().execute(
        "update job set envelope = ? where id = ?",
        (QueueKey(os.urandom(32)).sign("job", attrs.asdict(forged)), forged.job_id),
    )
    enqueue(task, forged)
    huey.execute(huey.dequeue())
    assert board.counts() == {"finished": 1, "queued": 1}, "the forged job never started"
    assert board.rejected() == 1
    board.close()


def test_a_message_in_the_old_format_is_refused_not_run(
    key: QueueKey, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """Before, the message carried the whole envelope; such a message is dropped, once told."""
    board = SqliteJobBoard(tmp_path, key=key)
    huey = make_huey("sqlite", directory=tmp_path, key=key)
    runner = Runner(board, "w1")
    task = register(huey, runner)
    old = Envelope(kind="echo", payload={"value": 1}, reply_to="me")
    board.record(old)
    for _ in range(2):
        task(attrs.asdict(old), priority=100)  # what an older Butler enqueued
    with caplog.at_level(logging.DEBUG, logger="butler_ls.queue.tasks"):
        huey.execute(huey.dequeue())
        huey.execute(huey.dequeue())
    assert huey.dequeue() is None
    assert board.take("me") == [] and board.counts() == {"queued": 1}, "not run"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "older Butler" in warnings[0].getMessage()
    assert runner.old_messages == 2
    assert board.rejected() == 0
    board.close()
