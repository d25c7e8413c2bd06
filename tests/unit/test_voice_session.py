"""The dictation session without a process: order, voice commands, closing, context."""

from __future__ import annotations

import array
import asyncio
import contextlib
import wave
from pathlib import Path
from types import SimpleNamespace

import pytest
from lsprotocol import types
from pygls.workspace import TextDocument

from butler_ls.host import events
from butler_ls.host.editing import Anchor
from butler_ls.util.config import Settings
from butler_ls.util.errors import ButlerError
from tests.helpers import load_plugin_module

session_module = load_plugin_module("voice_input", "session")
Segmenter = load_plugin_module("voice_input", "segmenter").Segmenter
spool_module = load_plugin_module("voice_input", "spool")
Spool = spool_module.Spool
rules_for = load_plugin_module("voice_input", "voice_commands").rules_for
lookahead_module = load_plugin_module("voice_input", "lookahead")
requests_module = load_plugin_module("transcriber", "requests")
identifiers = load_plugin_module("voice_input", "identifiers")
URI = "file:///draft.md"


class Editor:
    """A fake client holding one document; applies edits and reports them back."""

    def __init__(self, text: str) -> None:
        self.document = TextDocument(URI, text, version=1)
        self.workspace = SimpleNamespace(text_documents={URI: self.document})
        self.client_capabilities = types.ClientCapabilities()
        self.protocol = SimpleNamespace(notify=lambda method, params: self.states.append(params))
        self.states: list[dict] = []
        self.warnings: list[str] = []

    def show_warning(self, message: str) -> None:
        self.warnings.append(message)

    async def workspace_apply_edit_async(self, params):
        (edit,) = params.edit.changes[URI]
        self.type(edit.range, edit.new_text)
        return types.ApplyWorkspaceEditResult(applied=True)

    def type(self, range_: types.Range, text: str) -> None:
        change = types.TextDocumentContentChangePartial(range=range_, text=text)
        self.document.apply_change(change)
        self.document.version += 1
        events.emit(events.document_changed, None, uri=URI, changes=[change], version=2)


class Source:
    """Audio that never comes: the test hands utterances to the session directly."""

    kind = "file"
    description = "test"

    def start(self, on_audio, on_end) -> None:
        self.on_end = on_end

    def stop(self) -> None:
        self.on_end(None)


def make_session(tmp_path, editor: Editor, transcripts: dict[int, tuple[float, str]]):
    """A session whose "worker" answers utterance n after a delay with a given text."""
    notes: list[str] = []
    prompts: list[str] = []
    requests: list = []

    class Speech:
        Request = requests_module.TranscriptionRequest

        async def transcribe(self, request, **_):
            requests.append(request)
            index = int(samples_of(request).decode())
            prompts.append(request.prompt)
            delay, text = transcripts[index]
            await asyncio.sleep(delay)
            if text.startswith("!"):
                raise ButlerError(text[1:])
            return requests_module.Transcript(text=text)

    class Notes:
        async def append(self, text, **_):
            notes.append(text)

    capabilities = {"speech.transcribe": Speech(), "notes.daily": Notes()}
    ctx = SimpleNamespace(
        show_warning=editor.show_warning,
        notify=editor.protocol.notify,
        settings=Settings(sections={"model": SimpleNamespace(language="en", vocabulary=[])}),
        require=capabilities.__getitem__,
        get=lambda name, default=None: capabilities.get(name, default),
        run_task=lambda coro, name: asyncio.ensure_future(coro),
        document=editor.workspace.text_documents.get,
        open_uris=lambda: list(editor.workspace.text_documents),
    )
    plugin = SimpleNamespace(
        ctx=ctx,
        spool=Spool(tmp_path / "spool"),
        rules=lambda language=None: rules_for(language or "en"),
        partial_text=False,
        session_ended=lambda session: None,
        dictated=identifiers.DictatedWords(),
    )
    plugin.spool.open_session("s1", {})
    anchor = Anchor(editor, URI, None)
    session = session_module.DictationSession(plugin, "s1", Source(), anchor, Segmenter())
    session.requests = requests  # what went to speech.transcribe, for the tests that look
    return session, notes, prompts


def samples_of(request) -> bytes:
    """The samples a request carries: in memory, or in the spooled WAV it refers to."""
    if isinstance(request.upload, bytes):
        return request.upload
    with wave.open(request.upload, "rb") as wav:
        return wav.readframes(wav.getnframes())


def feed(session, index: int, seconds: float = 3.0) -> None:
    """Hand the session an utterance as the pump thread would (spooled first)."""
    utterance = SimpleNamespace(
        index=index,
        pcm=str(index).encode().ljust(4),  # whole 16-bit samples: the spool keeps those
        start=0.0,
        end=seconds,
        spoken_end=seconds,
        duration=seconds,
        forced=False,
        early=False,
    )
    session._spool(utterance)


async def finish(session) -> dict:
    session.source.stop()
    return await asyncio.wait_for(session.stop(), 10)


async def test_text_is_applied_in_order_even_when_transcribed_out_of_order(tmp_path):
    editor = Editor("Notes:")
    session, _, _ = make_session(
        tmp_path, editor, {0: (0.3, "First one."), 1: (0.0, "Second."), 2: (0.1, "third")}
    )
    await session.start()
    for index in range(3):
        await asyncio.to_thread(feed, session, index)
    answer = await finish(session)
    assert editor.document.source == "Notes: first one. Second. Third"
    assert answer["text"] == "first one. Second. Third"
    assert [u["index"] for u in answer["utterances"]] == [0, 1, 2]
    assert editor.states[-1]["state"] == "idle"
    assert not session.plugin.spool.pending("s1")


async def test_scratch_that_removes_the_previous_utterance_wherever_it_went(tmp_path):
    editor = Editor("Start")
    session, _, _ = make_session(
        tmp_path, editor, {0: (0, "Keep this."), 1: (0, "Drop this."), 2: (0, "Scratch that.")}
    )
    await session.start()
    await asyncio.to_thread(feed, session, 0)
    await asyncio.to_thread(feed, session, 1)
    await asyncio.sleep(0.2)
    # The user types above the dictation meanwhile.
    editor.type(types.Range(types.Position(0, 0), types.Position(0, 0)), "# Title\n")
    await asyncio.to_thread(feed, session, 2)
    answer = await finish(session)
    assert editor.document.source == "# Title\nStart keep this."
    assert answer["text"] == "keep this."


async def test_a_closed_document_sends_the_rest_to_the_daily_note(tmp_path):
    editor = Editor("Draft:")
    session, notes, _ = make_session(tmp_path, editor, {0: (0, "One."), 1: (0.2, "Two.")})
    await session.start()
    await asyncio.to_thread(feed, session, 0)
    await asyncio.sleep(0.1)
    events.emit(events.document_closed, None, uri=URI)
    editor.workspace.text_documents.clear()
    await asyncio.to_thread(feed, session, 1)
    await finish(session)
    assert editor.document.source == "Draft: one."
    assert notes == ["Two."]
    assert "was closed" in editor.warnings[0]


async def test_a_failed_utterance_stays_in_the_spool_and_the_rest_goes_on(tmp_path):
    editor = Editor("")
    session, _, _ = make_session(tmp_path, editor, {0: (0, "!the model is broken"), 1: (0, "Ok.")})
    await session.start()
    await asyncio.to_thread(feed, session, 0)
    await asyncio.to_thread(feed, session, 1)
    answer = await finish(session)
    assert editor.document.source == "Ok."
    assert answer["failed"] == 1 and "Recovered dictation" in answer["message"]
    assert [item.index for item in session.plugin.spool.pending("s1")] == [0]
    assert editor.states[-1]["state"] == "error"


async def test_context_is_the_unfinished_sentence_and_short_utterances_go_without(tmp_path):
    editor = Editor("")
    session, _, prompts = make_session(
        tmp_path, editor, {0: (0, "It was the best"), 1: (0, "of times"), 2: (0, "and")}
    )
    await session.start()
    for index, seconds in [(0, 3.0), (1, 1.0), (2, 3.0)]:
        await asyncio.to_thread(feed, session, index, seconds)
        await asyncio.sleep(0.05)
    await finish(session)
    assert prompts == ["", "", "It was the best of times"]


@pytest.mark.parametrize(
    ("text", "context"),
    [
        ("", ""),
        ("Hello there.", ""),
        ("Hello there. And then", "And then"),
        ("one, two", "one, two"),
        ('He said "stop." Then we', "Then we"),
    ],
)
def test_context(text: str, context: str):
    assert lookahead_module.context(text) == context


def test_timing_report_names_every_stage():
    timing = session_module.Timing(3, spoken_end=1.0, cut=1.4, spooled=1.41)
    timing.marks = {"started": 1.42, "transcribed": 1.9}
    timing.applied, timing.duration = 1.95, 2.5
    report = timing.report()
    assert report["index"] == 3 and report["total"] == pytest.approx(0.95)
    assert report["vad"] == pytest.approx(0.4) and report["model"] == pytest.approx(0.48)


async def test_a_spool_that_fails_loses_no_words(tmp_path):
    SpoolError = spool_module.SpoolError

    editor = Editor("")
    session, _, _ = make_session(tmp_path, editor, {0: (0, "Still here.")})

    def full(*_args, **_kwargs):
        raise SpoolError("cannot use the dictation spool at /x: No space left on device")

    session.plugin.spool.put = full
    await session.start()
    await asyncio.to_thread(feed, session, 0)
    await asyncio.sleep(0.1)
    answer = await finish(session)
    assert editor.document.source == "Still here." and answer["text"] == "Still here."
    assert "No space left" in editor.warnings[0]


class PausingSegmenter:
    """The segmenter as the session sees it 150 ms into a pause after some speech."""

    in_speech = True
    trailing_silence = 0.2
    utterance_start = 0.0

    def __init__(self, voiced_until: float) -> None:
        self.voiced_until = voiced_until

    def pending_pcm(self) -> bytes:
        return b"0"


@pytest.mark.parametrize(("more_speech", "jobs"), [(False, 1), (True, 2)])
async def test_a_pause_starts_the_transcription_early(tmp_path, more_speech: bool, jobs: int):
    editor = Editor("")
    session, _, prompts = make_session(tmp_path, editor, {0: (0.05, "Early bird.")})
    await session.start()
    session.segmenter = PausingSegmenter(voiced_until=3.0)
    session.lookahead.tick()
    session.lookahead.tick()  # the same audio: one speculation, not two
    assert len(prompts) == 0 or len(prompts) == 1
    session.segmenter = Segmenter()
    await asyncio.to_thread(feed, session, 0, 3.5 if more_speech else 3.0)
    answer = await finish(session)
    assert editor.document.source == "Early bird."
    assert len(prompts) == jobs
    assert answer["utterances"][0]["speculative"] is not more_speech


async def test_a_spooled_utterance_goes_by_reference_and_one_not_spooled_as_samples(tmp_path):
    editor = Editor("")
    session, _, _ = make_session(tmp_path, editor, {0: (0, "Kept."), 1: (0, "From memory.")})
    await session.start()
    await asyncio.to_thread(feed, session, 0)
    await asyncio.sleep(0.05)
    first = session.requests[0]
    assert first.upload == str(tmp_path / "spool" / "s1" / "000000.wav") and first.pcm.wav
    assert first.vad is False and first.priority == "interactive"

    def full(*_args, **_kwargs):
        raise spool_module.SpoolError("cannot use the dictation spool at /x: disk full")

    session.plugin.spool.put = full
    await asyncio.to_thread(feed, session, 1)
    answer = await finish(session)
    second = session.requests[1]
    assert second.upload == b"1   " and not second.pcm.wav
    assert answer["text"] == "Kept. From memory."


@pytest.mark.parametrize(
    ("text", "finished"),
    [
        ("He might even have been made amiable himself.", True),
        ("Is it done?", True),
        ('Said "stop!"', True),
        ("Go forward 10 meters", False),
        ("and then, ", False),
        ("I met Mr.", False),
        ("See fig.", False),
        ("Count to 10.", False),
        ("", False),
    ],
)
def test_which_transcripts_end_a_sentence(text, finished):
    assert lookahead_module.ends_sentence(text) is finished


class EndingSegmenter(PausingSegmenter):
    """A pause in progress that records the ends asked of it."""

    def __init__(self, voiced_until: float) -> None:
        super().__init__(voiced_until)
        self.ends: list[float] = []

    def end_at(self, voiced_until: float) -> None:
        self.ends.append(voiced_until)


@pytest.mark.parametrize(
    ("text", "mode", "ends", "shown"),
    [
        ("Early bird.", "sentence", [3.0], ""),  # a finished sentence: ended now
        ("Early bird and", "sentence", [], "Early bird and"),  # mid-sentence: the whole pause
        ("Early bird.", "pause", [], "Early bird."),  # the user chose the pause
    ],
)
async def test_a_speculation_that_ends_a_sentence_ends_the_utterance(
    tmp_path, text, mode, ends, shown
):
    editor = Editor("")
    session, _, _ = make_session(tmp_path, editor, {0: (0.0, text)})
    session.end_of_utterance = mode
    session.plugin.partial_text = True
    await session.start()
    session.segmenter = segmenter = EndingSegmenter(voiced_until=3.0)
    session.lookahead.speculate()
    await asyncio.wait_for(session.lookahead.speculation.task, 5)
    await asyncio.sleep(0)  # the done callback
    assert segmenter.ends == ends
    # What does not end the utterance is shown as its provisional text meanwhile.
    assert session.partial == shown
    session.segmenter = Segmenter()
    await finish(session)


async def test_a_speculation_made_stale_by_speech_ends_nothing(tmp_path):
    editor = Editor("")
    session, _, _ = make_session(tmp_path, editor, {0: (0.05, "Early bird.")})
    await session.start()
    session.segmenter = segmenter = EndingSegmenter(voiced_until=3.0)
    session.lookahead.tick()
    first = session.lookahead.speculation
    await asyncio.sleep(0.01)  # its job is under way
    segmenter.voiced_until = 3.5  # more speech: a new speculation replaces the first
    session.lookahead.tick()
    with contextlib.suppress(asyncio.CancelledError):
        await first.task
    await asyncio.wait_for(session.lookahead.speculation.task, 5)
    await asyncio.sleep(0)
    assert segmenter.ends == [3.5]
    session.segmenter = Segmenter()
    await finish(session)


async def test_the_pump_asks_for_a_speculation_as_soon_as_the_pause_is_long_enough(tmp_path):
    editor = Editor("")
    session, _, _ = make_session(tmp_path, editor, {})
    session.segmenter = Segmenter()
    session.lookahead.tick = lambda: None  # not the state ticks: the pump thread alone
    calls: list[float] = []
    session.lookahead.speculate = lambda: calls.append(session.segmenter.trailing_silence)
    await session.start()
    speech_file = Path(__file__).resolve().parents[1] / "data" / "speech" / "ps_goforward.wav"
    with wave.open(str(speech_file), "rb") as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
    last = max(i for i, sample in enumerate(samples) if abs(sample) > 1000)
    speech = samples[: last + 1].tobytes()
    quiet = bytes(2 * 16000 * 3 // 10)  # 0.3 s: less than the 0.4 s that ends an utterance
    for at in range(0, len(speech), 960):  # 30 ms chunks, as the microphone sends them
        session._audio.put(speech[at : at + 960])
    for at in range(0, len(quiet), 960):
        session._audio.put(quiet[at : at + 960])
        await asyncio.sleep(0.01)  # let the loop run what the pump asked of it
    assert len(calls) == 1 and 0.15 <= calls[0] <= 0.24  # once, as the pause reached 150 ms
    await session.cancel()


class SpeakingSegmenter:
    """An utterance being spoken: ``position`` seconds heard, ``trailing_silence`` at its end."""

    in_speech = True
    utterance_start = 0.0
    voiced_until = 0.0

    def __init__(self, position: float, trailing_silence: float = 0.0) -> None:
        self.position = position
        self.trailing_silence = trailing_silence

    def pending_pcm(self) -> bytes:
        return b"0"  # the fake speech's utterance 0


@pytest.mark.parametrize(
    ("heard", "silence", "shown_at", "refresh", "starts"),
    [
        (0.4, 0.0, 0.0, 0.3, False),  # too little audio for a first text
        (0.6, 0.0, 0.0, 0.3, True),  # the first text
        (1.0, 0.0, 0.8, 0.3, False),  # 0.2 s new since the last: not yet
        (1.2, 0.0, 0.8, 0.3, True),  # 0.4 s new
        (1.2, 0.0, 0.8, 0.6, False),  # voice_input.partialRefresh 0.6
        (1.2, 0.09, 0.8, 0.3, False),  # a pause may be starting: the speculation's turn
    ],
)
async def test_when_the_provisional_text_is_refreshed(
    tmp_path, heard, silence, shown_at, refresh, starts
):
    editor = Editor("")
    session, _, _ = make_session(tmp_path, editor, {0: (0.0, "Early bird")})
    session.plugin.partial_text = True
    session.partial_refresh = refresh
    session.segmenter = SpeakingSegmenter(heard, silence)
    session.lookahead._partial_at = shown_at
    session.lookahead.refresh_partial()
    job = session.lookahead._partial_job
    assert (job is not None) is starts
    if starts:
        sent: list[dict] = []
        session.notify_state = lambda: sent.append({"partial": session.partial})
        await job
        request = session.requests[0]
        assert request.provisional and request.beam_size == 5 and not request.vad
        # Sent at once, not at the next state tick.
        assert session.partial == "Early bird" and sent == [{"partial": "Early bird"}]
        assert session.lookahead._partial_at == pytest.approx(heard)


async def test_no_provisional_text_while_committed_text_is_transcribed(tmp_path):
    editor = Editor("")
    session, _, _ = make_session(tmp_path, editor, {0: (0.0, "Early bird")})
    session.plugin.partial_text = True
    session.segmenter = SpeakingSegmenter(2.0)
    session.transcribing = lambda: True
    session.lookahead.refresh_partial()
    assert session.lookahead._partial_job is None
