"""Recovery of a dead session's spooled utterances asks the model as a live session does."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from butler_ls.util.config import Settings
from tests.helpers import load_plugin_module

recovery = load_plugin_module("voice_input", "recovery")
Spool = load_plugin_module("voice_input", "spool").Spool
Utterance = load_plugin_module("voice_input", "segmenter").Utterance
rules_for = load_plugin_module("voice_input", "voice_commands").rules_for
requests_module = load_plugin_module("transcriber", "requests")

TEXTS = ["The first sentence ends here.", "And the second one", "goes on after a pause."]


def utterance(index: int, seconds: float) -> Utterance:
    pcm = bytes(int(16000 * seconds) * 2)
    start = 10.0 * index
    return Utterance(index, start, start + seconds, pcm, False, start + seconds)


def test_recovery_sends_the_unfinished_sentence_only_and_files_the_text(tmp_path):
    spool = Spool(tmp_path / "spool")
    spool.open_session("dead", {"uri": "file:///draft.md"})
    for index, seconds in enumerate([3.0, 2.5, 1.0]):
        spool.put("dead", utterance(index, seconds), {})
    requests, notes = [], []

    class Speech:
        Request = requests_module.TranscriptionRequest

        async def transcribe(self, request, **_):
            requests.append(request)
            return requests_module.Transcript(text=TEXTS[len(requests) - 1])

    class Notes:
        async def append(self, text, **kwargs):
            notes.append((text, kwargs))

    capabilities = {"speech.transcribe": Speech(), "notes.daily": Notes()}
    ctx = SimpleNamespace(
        settings=Settings(sections={"model": SimpleNamespace(language="en", vocabulary=[])}),
        require=capabilities.__getitem__,
    )
    rules = lambda language=None: rules_for(language or "en")  # noqa: E731
    text = asyncio.run(recovery.recover_session(spool, ctx, rules, "dead"))
    assert text == " ".join(TEXTS)
    # Each by its spooled WAV, without the model's own voice detector.
    assert all(str(r.upload).endswith(".wav") and r.pcm.wav and r.vad is False for r in requests)
    # The finished first sentence is not context; the unfinished second one is.
    assert requests[1].prompt == ""
    assert requests[2].vocabulary  # a short utterance: the commands as hotwords
    assert requests[2].prompt == ""
    assert notes[0][1] == {"section": recovery.SECTION} and notes[0][0].startswith(text)
    assert spool.pending("dead") == []
