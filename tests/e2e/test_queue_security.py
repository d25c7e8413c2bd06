"""Whoever can write to the queue's store can neither run code nor jobs, and a big file
sent through Redis is refused by its size or streamed in pieces: the server stays small.

The real server, its real worker and a real redis-server (SQLite too, for the forgeries).
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import socket
import stat
import struct
import time
from pathlib import Path

import psutil
import pytest
import redis
from huey.registry import Message
from pygls.exceptions import JsonRpcException

from butler_ls.queue.app import HUEY_CODEC, QUEUE_NAME, WakingSqliteStorage
from butler_ls.queue.wire import QueueKey

from .conftest import TEST_PLUGINS, StartServer, execute, server_pid

PLUGINS = {"plugins": {"paths": [str(TEST_PLUGINS)]}}
SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech" / "ps_goforward.wav"
HUEY_QUEUE_KEY = f"huey.redis.{QUEUE_NAME}"  # PriorityRedisHuey's sorted set
SECRET = "forged-payload-text"  # must never reach a log


class Touches:
    """Unpickling this creates ``path``: the proof that somebody loaded the pickle."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def evil_pickle(marker: Path) -> bytes:
    return pickle.dumps({"kind": "echo", "payload": {"value": SECRET}, "x": Touches(marker)})


def forged_envelope(job_id: str, reply_to: str = "srv-elsewhere-1-abc") -> dict:
    return {
        "kind": "echo",
        "payload": {"value": SECRET},
        "reply_to": reply_to,
        "priority": "interactive",
        "throttle": {},
        "job_id": job_id,
    }


def huey_message(envelope: dict) -> Message:
    """A queue message for the job (it names the job; its record holds the envelope)."""
    job_id = envelope["job_id"]
    return Message(f"huey-{job_id}", "butler.run_job", None, 0, 0, 100, (job_id,), {})


def data_dir(butler_env: dict[str, str]) -> Path:
    return Path(butler_env["XDG_DATA_HOME"]) / "butler"


def logs(butler_env: dict[str, str]) -> str:
    folder = data_dir(butler_env) / "logs"
    return "".join(p.read_text(errors="replace") for p in sorted(folder.glob("*.log*")))


async def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError("condition not met in time")


async def test_forged_redis_records_and_messages_never_run(
    start_server: StartServer, butler_env: dict[str, str], redis_url: str, tmp_path: Path
):
    client = await start_server(
        init_options={**PLUGINS, "queue": {"backend": "redis", "url": redis_url}}
    )
    warm = await execute(client, "test.job", {"kind": "echo", "payload": {"value": "warm"}})
    assert warm["result"]["echo"] == "warm"
    worker_pid = (await execute(client, "butler.queue.status"))["worker"]["pid"]
    store = redis.Redis.from_url(redis_url)
    markers = {name: tmp_path / f"marker-{name}" for name in ("record", "message")}
    stranger = QueueKey(os.urandom(32), "attacker")

    # (a) A pickle as a job record: the server reads every record within 5 s, and a
    # starting worker re-runs the "running" jobs of dead workers.
    store.hset(
        "butler:job:forged-record",
        mapping={
            "reply_to": "srv-elsewhere-1-abc",
            "envelope": evil_pickle(markers["record"]),
            "state": "running",
            "worker": "dead-worker",
            "attempts": 1,
            "created": time.time() - 60,
        },
    )
    store.zadd("butler:jobs", {"forged-record": time.time() - 60})

    # (b) A pickle pushed onto Huey's queue: the worker pops it within 0.1 s.
    def push(data: bytes) -> None:
        prefix = struct.pack(">Q", int(time.time() * 1e6))
        store.zadd(HUEY_QUEUE_KEY, {prefix + data: -100})

    push(evil_pickle(markers["message"]))

    # (c) An unsigned JSON job, and (d) one signed with a key that is not Butler's: each
    # with its job record, so that they would run if the message were believed.
    for job_id, seal in (
        ("forged-json", lambda purpose, value: json.dumps(value, default=list).encode()),
        ("forged-foreign", lambda purpose, value: stranger.sign(purpose, value, HUEY_CODEC)),
    ):
        envelope = forged_envelope(job_id)
        store.hset(
            f"butler:job:{job_id}",
            mapping={
                "reply_to": envelope["reply_to"],
                "envelope": seal("job", envelope),
                "state": "queued",
                "worker": "",
                "attempts": 0,
                "created": time.time(),
            },
        )
        store.zadd("butler:jobs", {job_id: time.time()})
        push(seal("task", huey_message(envelope)))

    def refused_messages() -> list[str]:
        lines = logs(butler_env).splitlines()
        return [line for line in lines if "refused a queue message" in line]

    await wait_until(lambda: len(refused_messages()) == 3, timeout=5)
    assert store.zcard(HUEY_QUEUE_KEY) == 0
    # A worker that starts reads the records too: let it.
    os.kill(worker_pid, 9)

    async def new_worker() -> int | None:
        pid = (await execute(client, "butler.queue.status"))["worker"].get("pid")
        return pid if pid and pid != worker_pid else None

    deadline = time.monotonic() + 20
    while not await new_worker():
        assert time.monotonic() < deadline, "no new worker"
        await asyncio.sleep(0.2)
    await asyncio.sleep(6)  # one round of the server's inbox adoption (every 5 s)

    assert not any(marker.exists() for marker in markers.values()), "a pickle was loaded"
    for job_id in ("forged-json", "forged-foreign"):
        record = store.hgetall(f"butler:job:{job_id}")
        assert record[b"state"] == b"queued" and record[b"attempts"] == b"0", "it ran"
    text = logs(butler_env)
    assert "refused a job record (butler:job:forged-record)" in text
    told = refused_messages()
    assert any("pickle" in line for line in told)
    assert any("not signed" in line for line in told)
    assert any("another key" in line for line in told)
    assert all(" WARNING " in line for line in told)
    assert SECRET not in text, "a refused record's content was logged"
    assert int(store.get("butler:rejected")) >= 4
    # ...and the user can see it.
    deadline = time.monotonic() + 5
    while (await execute(client, "butler.queue.status")).get("rejected", 0) < 4:
        assert time.monotonic() < deadline, "butler.queue.status does not report refused jobs"
        await asyncio.sleep(0.3)

    # Real, signed work goes on: a recording sent through Redis in pieces.
    answer = await execute(client, "butler.transcribeFile", {"path": str(SPEECH)})
    assert "forward" in answer["text"].lower()
    assert not store.keys("butler:blob:*"), "the upload was cleaned up"


async def test_forged_sqlite_records_and_messages_never_run(
    start_server: StartServer, butler_env: dict[str, str], tmp_path: Path
):
    client = await start_server(init_options=PLUGINS)
    assert await execute(client, "test.job", {"kind": "echo", "payload": {"value": 1}})
    queue = data_dir(butler_env) / "queue"
    assert stat.S_IMODE((queue / "queue.key").stat().st_mode) == 0o600
    markers = {name: tmp_path / f"marker-{name}" for name in ("record", "message")}
    dead_pid = next(pid for pid in range(4_000_000, 4_100_000) if not psutil.pid_exists(pid))
    gone_server = f"srv-{socket.gethostname()}-{dead_pid}-deadbeef"

    import sqlite3

    with sqlite3.connect(queue / "jobs.db") as db:
        db.execute(
            "insert into job values ('forged-record', ?, ?, 'queued', null, 0, 0, 0)",
            (gone_server, evil_pickle(markers["record"])),
        )
    storage = WakingSqliteStorage(
        QUEUE_NAME, filename=str(queue / "queue.db"), wake_path=str(queue / "queue.wake")
    )
    storage.enqueue(evil_pickle(markers["message"]), 100)
    await wait_until(lambda: storage.queue_size() == 0, timeout=5)
    await asyncio.sleep(6)  # the server adopts a gone server's jobs every 5 s

    assert not any(marker.exists() for marker in markers.values()), "a pickle was loaded"
    text = logs(butler_env)
    assert "refused a job record (forged-record)" in text
    assert "refused a queue message" in text
    assert SECRET not in text
    answer = await execute(client, "test.job", {"kind": "echo", "payload": {"value": 2}})
    assert answer["result"]["echo"] == 2


async def test_a_big_file_through_redis_is_refused_by_size_and_memory_stays_flat(
    start_server: StartServer, butler_env: dict[str, str], redis_url: str, tmp_path: Path
):
    client = await start_server(init_options={"queue": {"backend": "redis", "url": redis_url}})
    store = redis.Redis.from_url(redis_url)
    # Warm: the first job loads the queue's code in the server.
    answer = await execute(client, "butler.transcribeFile", {"path": str(SPEECH)})
    assert "forward" in answer["text"].lower()
    server = psutil.Process(server_pid(client))
    idle = server.memory_info().rss
    peak = idle
    sampling = True

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, server.memory_info().rss)
            await asyncio.sleep(0.01)

    sampler = asyncio.ensure_future(sample())
    huge = tmp_path / "huge.wav"
    with open(huge, "wb") as out:
        out.truncate(1 << 30)  # 1 GB, sparse
    with pytest.raises(JsonRpcException) as refused:
        await execute(client, "butler.transcribeFile", {"path": str(huge)})
    message = str(refused.value)
    assert "1,024 MB" in message and "500 MB" in message and "transcriber.maxFileMb" in message
    assert not store.keys("butler:blob:*"), "nothing was sent"
    refused_peak = peak

    # Under the limit, a file goes through Redis in 1 MB pieces (zeros: the worker gets
    # it whole, checks it, and finds no audio in it).
    big = tmp_path / "big.wav"
    with open(big, "wb") as out:
        out.truncate(200 << 20)
    with pytest.raises(JsonRpcException) as failed:
        await execute(client, "butler.transcribeFile", {"path": str(big)})
    # The worker's copy arrived whole (no checksum error) and is named as the user knows it.
    assert str(failed.value).startswith("big.wav looks damaged"), failed.value
    sampling = False
    await sampler
    mb = 1 << 20
    print(
        f"server RSS idle {idle / mb:.0f} MB; over idle: refusing 1 GB "
        f"{(refused_peak - idle) / mb:.1f} MB, streaming 200 MB {(peak - idle) / mb:.1f} MB"
    )
    assert refused_peak - idle < 100 * mb
    assert peak - idle < 100 * mb
    await wait_until(lambda: not store.keys("butler:blob:*"), timeout=10)
    assert not list((data_dir(butler_env) / "queue" / "uploads").iterdir()), "copy removed"

    # And real speech still goes the same way.
    answer = await execute(client, "butler.transcribeFile", {"path": str(SPEECH)})
    assert "forward" in answer["text"].lower()
