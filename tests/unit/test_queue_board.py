"""The job boards (SQLite and a real Redis), the wake-up pipe and the result client."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import os
import pickle
import threading
import time
from pathlib import Path

import attrs
import pytest

from butler_ls.queue.client import JobClient, JobError
from butler_ls.queue.jobs import Envelope, SqliteJobBoard
from butler_ls.queue.redis_jobs import RedisJobBoard
from butler_ls.queue.tasks import JobContext, JobFailed
from butler_ls.queue.wake import WakeChannel


@pytest.fixture(params=["sqlite", "redis"])
def board(request, tmp_path: Path):
    if request.param == "sqlite":
        board = SqliteJobBoard(tmp_path / "queue")
    else:
        from butler_ls.queue.redis_jobs import RedisJobBoard

        board = RedisJobBoard(request.getfixturevalue("redis_url"), directory=tmp_path / "queue")
    yield board
    board.close()


def envelope(**kw) -> Envelope:
    return Envelope(kind=kw.pop("kind", "echo"), payload=kw.pop("payload", {}), reply_to="me", **kw)


def test_a_job_goes_from_recorded_to_delivered(board):
    job = envelope(payload={"audio": b"\x00\x01"})
    board.record(job)
    assert board.counts() == {"queued": 1}
    assert board.jobs_of("me")[0][0].payload["audio"] == b"\x00\x01"  # bytes travel
    assert board.started(job.job_id, "w1")
    board.post(job, "partial", {"n": 0}, index=0)
    board.post(job, "final", {"done": True})
    assert board.counts() == {"finished": 1}
    assert not board.started(job.job_id, "w2"), "a finished job never runs twice"
    messages = board.take("me")
    assert [(m.kind, m.index, m.data) for m in messages] == [
        ("partial", 0, {"n": 0}),
        ("final", 0, {"done": True}),
    ]
    assert board.take("me") == messages  # kept until acknowledged
    board.ack("me", [m.seq for m in messages])
    assert board.take("me") == []
    board.delivered(job.job_id)
    assert board.counts() == {}


def test_interrupted_jobs_are_those_of_dead_workers(board):
    mine, theirs = envelope(), envelope()
    for job, worker in ((mine, "dead"), (theirs, "alive")):
        board.record(job)
        board.started(job.job_id, worker)
    assert [e.job_id for e in board.interrupted({"alive"})] == [mine.job_id]
    board.requeued(mine.job_id)
    assert board.interrupted(set()) == [theirs]


def test_inbox_wait_wakes_on_post(board):
    job = envelope()
    board.record(job)
    board.take("me")  # Redis: nothing; SQLite: opens the connection
    assert board.wait("me", 0.05) is False
    threading.Timer(0.1, board.post, args=(job, "final", {})).start()
    start = time.monotonic()
    assert board.wait("me", 5.0) is True
    assert time.monotonic() - start < 2.0


def test_heartbeats_and_settings(board):
    board.heartbeat("w1", {"running": {}})
    assert "w1" in board.workers()
    board.forget_worker("w1")
    assert "w1" not in board.workers()
    board.put_settings("me", {"maxCpuPercent": 50})
    assert board.settings_of("me") == {"maxCpuPercent": 50}
    board.forget_owner("me")
    assert board.settings_of("me") is None


def test_wake_channel_without_a_reader_never_blocks(tmp_path: Path):
    channel = WakeChannel(tmp_path / "w")
    assert channel.notify() is False  # no reader yet: nothing to wake
    assert channel.wait(0.01) is False
    assert channel.notify() is True
    assert channel.wait(1.0) is True
    for _ in range(100_000):  # far more than a pipe holds: still never blocks
        channel.notify()
    assert channel.wait(0) is True
    channel.close()


def test_client_skips_repeated_partials_and_applies_each_once(tmp_path: Path):
    board = SqliteJobBoard(tmp_path / "queue")
    enqueued: list[Envelope] = []

    class Task:
        def __call__(self, job_id, priority):
            enqueued.append(board.envelope(job_id))  # the message names it; the board has it

    async def scenario():
        client = JobClient(board, Task, asyncio.get_running_loop(), owner="me")
        client.start()
        seen = []
        job = asyncio.ensure_future(
            client.submit("sleep", {}, on_event=lambda m: seen.append((m.kind, m.index)))
        )
        while not enqueued:
            await asyncio.sleep(0.01)
        env = enqueued[0]
        board.started(env.job_id, "w1")
        board.post(env, "partial", {}, index=0)
        board.post(env, "partial", {}, index=1)
        # The worker dies; the re-run repeats both partials, then goes on.
        board.started(env.job_id, "w2")
        for index in range(3):
            board.post(env, "partial", {}, index=index)
        board.post(env, "final", {"ok": 1})
        assert await asyncio.wait_for(job, 5) == {"ok": 1}
        assert [s for s in seen if s[0] == "partial"] == [("partial", i) for i in range(3)]
        failing = asyncio.ensure_future(client.submit("nope", {}))
        while len(enqueued) < 2:
            await asyncio.sleep(0.01)
        board.post(enqueued[1], "error", {"message": "no handler"})
        with pytest.raises(JobError, match="no handler"):
            await asyncio.wait_for(failing, 5)
        client.close()

    asyncio.run(scenario())
    assert board.take("me") == []  # everything acknowledged
    assert board.counts() == {}


@pytest.fixture
def redis_board(redis_url: str, tmp_path: Path):
    from butler_ls.queue.redis_jobs import RedisJobBoard

    board = RedisJobBoard(redis_url, directory=tmp_path / "queue")
    yield board
    board.close()


def test_a_file_streams_through_redis_in_pieces_and_comes_back_checked(redis_board, tmp_path: Path):
    source = tmp_path / "talk.wav"
    source.write_bytes(os.urandom(2_500_000))
    job = envelope()
    with open(source, "rb") as stream:
        blob = {"name": "talk.wav", **redis_board.put_blob(job.job_id, stream)}
    assert blob["chunks"] == 3 and blob["size"] == 2_500_000
    assert blob["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    key = f"butler:blob:{job.job_id}"
    assert 0 < redis_board.redis.ttl(key) <= 24 * 3600, "an upload nobody collects expires"
    context = JobContext(job, redis_board, scratch=tmp_path / "uploads")
    with context.uploaded_file(blob) as copy:
        assert copy.suffix == ".wav" and copy.read_bytes() == source.read_bytes()
        assert (copy.parent.stat().st_mode & 0o077) == 0, "the copy is private"
    assert not copy.exists() and not redis_board.redis.exists(key), "both copies are gone"


def test_an_altered_or_missing_upload_fails_the_job(redis_board, tmp_path: Path):
    job = envelope()
    with open(__file__, "rb") as stream:
        blob = redis_board.put_blob(job.job_id, stream)
    redis_board.redis.lset(f"butler:blob:{job.job_id}", 0, b"altered")
    context = JobContext(job, redis_board, scratch=tmp_path)
    with pytest.raises(JobFailed, match="checksum"), context.uploaded_file(blob):
        pass
    with pytest.raises(JobFailed, match="gone from Redis"), context.uploaded_file(blob):
        pass


def test_forged_redis_job_records_are_refused_not_unpickled(redis_board, tmp_path: Path):
    marker = tmp_path / "marker"

    class WritesMarker:
        def __reduce__(self):
            return (Path.write_text, (marker, "pwned"))

    real = envelope()
    redis_board.record(real)
    redis = redis_board.redis
    redis.hset("butler:job:forged", mapping={"envelope": pickle.dumps(WritesMarker())})
    redis.hset("butler:job:forged", mapping={"state": "queued", "worker": "", "reply_to": "me"})
    redis.zadd("butler:jobs", {"forged": 0})
    redis.rpush("butler:inbox:me", b'{"seq": 1, "job_id": "x", "kind": "final", "data": {}}')
    assert redis_board.counts() == {"queued": 1}
    assert [e.job_id for e, _ in redis_board.jobs_of("me")] == [real.job_id]
    assert redis_board.envelope("forged") is None
    assert redis_board.take("me") == []
    assert redis.llen("butler:inbox:me") == 0, "a forged result is dropped"
    assert redis_board.rejected() == 2
    assert not marker.exists()


def test_an_upload_reaches_a_local_worker_as_its_path(tmp_path: Path):
    board = SqliteJobBoard(tmp_path / "queue")
    enqueued: list[dict] = []

    class Task:
        def __call__(self, job_id, priority):
            enqueued.append(attrs.asdict(board.envelope(job_id)))

    async def scenario():
        client = JobClient(board, Task, asyncio.get_running_loop(), owner="me")
        job = asyncio.ensure_future(client.submit("echo", {"upload": __file__}))
        while not enqueued:
            await asyncio.sleep(0.01)
        job.cancel()

    asyncio.run(scenario())
    assert enqueued[0]["payload"] == {"path": __file__}
    board.close()


def describe(exc: BaseException) -> str:
    from tests.helpers import load_plugin_module

    errors = load_plugin_module("task_queue", "errors")
    return errors.describe_queue_error(exc, "redis://:secret@10.0.0.5:6379/0")


def test_queue_errors_name_their_real_cause():
    import redis

    refused = redis.ConnectionError("Error 111 connecting to 10.0.0.5:6379. Connection refused.")
    assert describe(refused).startswith("cannot reach Redis at redis://:***@10.0.0.5:6379/0")
    lost = redis.ConnectionError("Error 32 while writing to socket. Broken pipe.")
    assert describe(lost).startswith("lost the connection to Redis at redis://:***@")
    slow = redis.TimeoutError("Timeout reading from socket")
    assert "did not answer in time" in describe(slow)
    for exc in (lost, slow):
        assert "start redis-server" not in describe(exc), "it was reachable"
    assert "secret" not in describe(refused) + describe(lost) + describe(slow)


def test_a_full_redis_is_named_as_such_and_the_partial_upload_removed(redis_board, tmp_path: Path):
    """Redis at its maxmemory refuses the pieces: the error says so, not 'cannot reach'."""
    source = tmp_path / "talk.wav"
    source.write_bytes(os.urandom(6_000_000))
    store = redis_board.redis
    used = int(store.info("memory")["used_memory"])
    store.config_set("maxmemory", used + 2_000_000)
    job = envelope()
    try:
        with pytest.raises(Exception) as caught, open(source, "rb") as stream:
            redis_board.put_blob(job.job_id, stream)
    finally:
        store.config_set("maxmemory", 0)
    assert type(caught.value).__name__ == "OutOfMemoryError" or "OOM" in str(caught.value)
    message = describe(caught.value)
    assert message.startswith("Redis at redis://:***@10.0.0.5:6379/0 refused the request")
    assert "raise its maxmemory" in message and "transcriber.maxFileMb" in message
    assert not store.exists(f"butler:blob:{job.job_id}")


@pytest.mark.parametrize("board_class", [SqliteJobBoard, RedisJobBoard])
def test_both_boards_keep_the_job_board_contract(board_class):
    # Every user types against JobBoard: each of its methods exists on both boards with
    # the same parameters, so either board can stand behind any user.
    from butler_ls.queue.board import JobBoard

    for name, member in vars(JobBoard).items():
        if name.startswith("_") or (not callable(member) and not isinstance(member, property)):
            continue
        implemented = getattr(board_class, name, None)
        assert implemented is not None, f"{board_class.__name__} has no {name}"
        if isinstance(member, property):
            assert isinstance(implemented, property), name
            continue
        expected = list(inspect.signature(member).parameters)
        assert list(inspect.signature(implemented).parameters) == expected, name
