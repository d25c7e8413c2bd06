"""An utterance's audio is stored once: the spooled WAV is its record, and the job refers to it.

Through the real pieces up to the queue: voice_input's utterance job, the transcriber's
``speech.transcribe``, the job client, a real board (SQLite, or a real redis-server) and
a real Huey queue; no worker runs, so the job stays where it was put.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from butler_ls.queue.app import make_huey
from butler_ls.queue.client import JobClient, JobError
from butler_ls.queue.tasks import register
from butler_ls.util.config import Settings
from tests.helpers import load_plugin_module

transcriber = load_plugin_module("transcriber", "plugin")
utterance_jobs = load_plugin_module("voice_input", "utterance_jobs")
Spool = load_plugin_module("voice_input", "spool").Spool

SAMPLES = bytes(range(256)) * 250  # 2 s of "speech": 64,000 bytes


def board_and_huey(backend: str, folder: Path, request: pytest.FixtureRequest) -> tuple[Any, Any]:
    if backend == "sqlite":
        from butler_ls.queue.jobs import SqliteJobBoard

        return SqliteJobBoard(folder), make_huey("sqlite", directory=folder)
    from butler_ls.queue.redis_jobs import RedisJobBoard

    url = request.getfixturevalue("redis_url")
    board = RedisJobBoard(url, directory=folder)
    return board, make_huey("redis", directory=folder, url=url, key=board.key)


def spooled_utterance(tmp_path: Path) -> Path:
    spool = Spool(tmp_path / "spool")
    spool.open_session("s1", {})
    utterance = SimpleNamespace(
        index=0, pcm=SAMPLES, start=0.0, end=2.0, spoken_end=2.0, duration=2.0, forced=False
    )
    return spool.put("s1", utterance, {"target": "cursor"}).path


def byte_values(value: Any) -> list[bytes]:
    """Every bytes value anywhere in a payload."""
    if isinstance(value, bytes):
        return [value]
    if isinstance(value, dict):
        return [b for item in value.values() for b in byte_values(item)]
    if isinstance(value, list | tuple):
        return [b for item in value for b in byte_values(item)]
    return []


async def submit(board: Any, huey: Any, audio: bytes | Path, monkeypatch) -> str:
    """Send one utterance as a live session does; returns its job id once it is queued."""
    client = JobClient(board, lambda: register(huey), asyncio.get_running_loop(), owner="me")

    class Jobs:
        Error = JobError

        async def submit(self, kind: str, payload: dict, **options: Any) -> Any:
            options.pop("throttle", None)
            return await client.submit(kind, payload, **options)

    # No model section loaded: the transcriber sends ModelSettings' defaults (tiny.en).
    ctx = SimpleNamespace(require={"queue.jobs": Jobs()}.__getitem__, settings=Settings())
    speech = transcriber.Transcriber(SimpleNamespace(ctx=ctx))
    job = asyncio.ensure_future(
        utterance_jobs.transcribe_utterance(
            speech,
            audio,
            2.0,
            job_id="dictation-s1-0",
            marks={},
            language=None,
            text_so_far="",
            hotwords=[],
        )
    )
    try:
        for _ in range(500):
            if huey.pending():
                return "dictation-s1-0"
            await asyncio.sleep(0.01)
        raise AssertionError("the job was never enqueued")
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_spooled_utterance_is_stored_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch
):
    wav = spooled_utterance(tmp_path)
    board, huey = board_and_huey(backend, tmp_path / "queue", request)
    try:
        job_id = await submit(board, huey, wav, monkeypatch)
        (message,) = huey.pending()
        assert message.args == (job_id,), "the queue message names the job, nothing more"
        payload = board.envelope(job_id).payload
        assert byte_values(payload) == [], "no audio in the job's record"
        assert payload["pcm"]["wav"] is True, "read as the spooled samples it is"
        if backend == "sqlite":
            assert payload["path"] == str(wav), "the worker reads the spool's file"
        else:
            # Once through Redis, as the file's own bytes, in the job's one blob.
            assert payload["blob"]["name"] == wav.name
            assert board.redis.keys("butler:blob:*") == [f"butler:blob:{job_id}".encode()]
            chunks = board.blob_chunks(job_id, payload["blob"]["chunks"])
            assert b"".join(chunks) == wav.read_bytes()
    finally:
        board.close()


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_speech_not_spooled_yet_travels_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch
):
    """A speculative decode's samples: in the job's record (SQLite) or one blob (Redis)."""
    board, huey = board_and_huey(backend, tmp_path / "queue", request)
    try:
        job_id = await submit(board, huey, SAMPLES, monkeypatch)
        (message,) = huey.pending()
        assert message.args == (job_id,)
        payload = board.envelope(job_id).payload
        layout = {"sampleRate": 16000, "channels": 1, "format": "s16le", "wav": False}
        assert payload["pcm"] == layout
        if backend == "sqlite":
            assert byte_values(payload) == [SAMPLES]
        else:
            assert byte_values(payload) == []
            assert board.redis.keys("butler:blob:*") == [f"butler:blob:{job_id}".encode()]
            assert b"".join(board.blob_chunks(job_id, payload["blob"]["chunks"])) == SAMPLES
    finally:
        board.close()
