"""speech.transcribe's typed request and result: their wire forms, both ways, and bad ones."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.helpers import load_plugin_module

requests = load_plugin_module("transcriber", "requests")
jobs = load_plugin_module("transcriber", "jobs")
Segment = load_plugin_module("transcriber", "subtitles").Segment
Pcm = requests.Pcm
Request = requests.TranscriptionRequest
Transcript = requests.Transcript
RequestError = requests.RequestError


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(Request.of_file("/audio/talk.mp3", priority="batch"), id="file"),
        pytest.param(Request(path="/audio/talk.mp3", language="de"), id="path"),
        pytest.param(Request.of_wav("/spool/s1/000003.wav", vad=False), id="spooled"),
        pytest.param(
            Request.of_samples(
                b"\x01\x00" * 800,
                prompt="It was the best",
                vocabulary=["scratch that", "new line"],
                beam_size=1,
                vad=False,
                provisional=True,
            ),
            id="samples",
        ),
        pytest.param(
            Request(data=b"\x00\x00" * 4, pcm=Pcm(sample_rate=44100, channels=2, format="f32le")),
            id="data",
        ),
        pytest.param(
            Request(
                blob={"name": "talk.wav", "size": 3, "sha256": "ab", "chunks": 1},
                model={"name": "tiny.en", "device": "cpu", "vocabulary": ["Butler"]},
            ),
            id="blob",
        ),
    ],
)
def test_a_request_survives_its_wire_form(request_):
    wire = request_.to_wire()
    assert "priority" not in wire, "the job's priority carries it"
    assert Request.from_wire(wire, priority=request_.priority) == request_


def test_the_wire_form_keeps_the_payload_keys_the_worker_reads():
    wire = Request.of_samples(b"\x00\x00", language="en", beam_size=1, vad=False).to_wire()
    assert wire == {
        "upload": b"\x00\x00",
        "pcm": {"sampleRate": 16000, "channels": 1, "format": "s16le", "wav": False},
        "language": "en",
        "prompt": "",
        "vocabulary": [],
        "beamSize": 1,
        "vad": False,
        "model": {},
    }
    # Provisional text travels as a flag only when asked for (older workers ignore it).
    provisional = Request.of_samples(b"\x00\x00", provisional=True).to_wire()
    assert provisional["provisional"] is True


def test_the_older_inline_pcm_form_still_reads():
    old = {"pcm": {"data": b"\x00\x00", "sampleRate": 16000, "channels": 1, "format": "s16le"}}
    request = Request.from_wire(old)
    assert request.data == b"\x00\x00" and request.pcm == Pcm()
    assert (request.beam_size, request.vad, request.vocabulary) == (5, True, ())


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        ({}, "exactly once"),
        ({"path": "/a.wav", "data": b"x"}, "not path and data"),
        ({"path": 5}, "path must not be an int"),
        ({"path": "/a.wav", "beamSize": 0}, "beamSize must be a positive whole number"),
        ({"path": "/a.wav", "vocabulary": "Butler"}, "vocabulary must be a list"),
        ({"data": b"x", "pcm": {"format": "u8"}}, "pcm.format is 'u8'"),
        ({"data": b"x", "pcm": {"sampleRate": True}}, "pcm.sampleRate"),
        ("a string", "is an object"),
    ],
)
def test_a_bad_request_names_its_field(payload, names: str):
    with pytest.raises(RequestError, match=names):
        Request.from_wire(payload)


def test_a_transcript_survives_its_wire_form():
    transcript = Transcript(
        text="Go forward. Ten meters.",
        segments=[Segment(0.0, 1.5, "Go forward."), Segment(1.5, 2.4, "Ten meters.")],
        language="en",
        duration=2.5,
    )
    wire = transcript.to_wire()
    # butler.transcribeFile answers these fields as they are: its public answer.
    assert wire == {
        "text": "Go forward. Ten meters.",
        "segments": [
            {"start": 0.0, "end": 1.5, "text": "Go forward."},
            {"start": 1.5, "end": 2.4, "text": "Ten meters."},
        ],
        "language": "en",
        "duration": 2.5,
    }
    assert Transcript.from_wire(wire) == transcript


def test_a_bad_transcript_names_its_field():
    with pytest.raises(RequestError, match=r"segments\[0\]"):
        Transcript.from_wire({"text": "x", "segments": [{"start": 0}]})
    with pytest.raises(RequestError, match="text must not be missing"):
        Transcript.from_wire({"segments": []})


def wav_bytes(samples: bytes, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples)
    return buffer.getvalue()


def test_a_spooled_wav_is_read_sample_for_sample_like_samples_in_memory(tmp_path: Path):
    samples = bytes(range(256)) * 64
    spooled = tmp_path / "000000.wav"
    spooled.write_bytes(wav_bytes(samples))
    from_file = jobs._samples(str(spooled), Pcm(wav=True))
    in_memory = jobs._samples(samples, Pcm())
    assert from_file.tolist() == in_memory.tolist()
    spooled.write_bytes(wav_bytes(samples, rate=8000))
    with pytest.raises(jobs.ButlerError, match="8000 Hz"):
        jobs._samples(str(spooled), Pcm(wav=True))
    with pytest.raises(jobs.ButlerError, match="does not exist"):
        jobs._samples(str(tmp_path / "gone.wav"), Pcm(wav=True))


def test_the_job_reads_its_request_and_answers_a_transcript(monkeypatch):
    """The worker's handler goes from the wire to the engine and back through the types."""
    seen = {}

    class Engine:
        def model(self, spec, **kwargs):
            seen["model"] = (spec.name, kwargs["device"], kwargs["any_threads"])
            return object()

        def transcribe(self, audio, model, options, **kwargs):
            seen["audio"], seen["options"] = len(audio), options
            engine = load_plugin_module("transcriber", "engine")
            return engine.Transcript([Segment(0.0, 0.1, "Hello.")], "en", 0.1)

    monkeypatch.setattr(jobs, "ENGINE", Engine())
    monkeypatch.setattr(jobs, "resolve_model", lambda name: SimpleNamespace(name=name))
    request = Request(
        data=b"\x00\x00" * 1600,
        pcm=Pcm(),
        prompt="so far",
        vocabulary=["Butler"],
        beam_size=1,
        model={"name": "tiny.en", "device": "cpu", "vocabulary": ["pygls"]},
    )
    ctx = SimpleNamespace(
        envelope=SimpleNamespace(priority="interactive"),
        threads=1,
        partial=lambda data: None,
        cancelled=lambda: False,
    )
    result = jobs.transcribe(ctx, request.to_wire())
    assert Transcript.from_wire(result).text == "Hello."
    assert seen["model"] == ("tiny.en", "cpu", True)
    assert seen["audio"] == 1600
    assert list(seen["options"].vocabulary) == ["pygls", "Butler"]
    assert (seen["options"].beam_size, seen["options"].prompt) == (1, "so far")
