"""The spoken language: the rule that keeps or switches it (in the worker and in a dictation
session), what the session reports, and the voice commands chosen by it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from butler_ls.job_api import section_of
from butler_ls.util.config import Settings
from tests.helpers import load_plugin_module

from .test_voice_session import URI, Editor, Source, feed, finish, samples_of

languages = load_plugin_module("transcriber", "languages")
engine = load_plugin_module("transcriber", "engine")
requests_module = load_plugin_module("transcriber", "requests")
ModelSettings = load_plugin_module("transcriber", "settings").ModelSettings
SessionLanguage = load_plugin_module("voice_input", "session_language").SessionLanguage
session_module = load_plugin_module("voice_input", "session")
Segmenter = load_plugin_module("voice_input", "segmenter").Segmenter
Spool = load_plugin_module("voice_input", "spool").Spool
DictatedWords = load_plugin_module("voice_input", "identifiers").DictatedWords
Anchor = load_plugin_module("voice_input", "session").Anchor
voice_commands = load_plugin_module("voice_input", "voice_commands")
rules_for, interpret = voice_commands.rules_for, voice_commands.interpret


def test_whisper_languages_are_faster_whispers():
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    assert tuple(_LANGUAGE_CODES) == languages.WHISPER_LANGUAGES


@pytest.mark.parametrize(
    ("hint", "detected", "probability", "chosen"),
    [
        (None, "fr", 0.3, "fr"),  # nothing known yet: whatever is heard
        ("fr", "fr", 0.5, "fr"),
        ("fr", "es", 0.95, "es"),  # confidently another language: it switches
        ("fr", "en", 0.6, "fr"),  # unsure: the session's language stays
    ],
)
def test_the_language_switches_only_on_a_confident_detection(hint, detected, probability, chosen):
    assert languages.choose_language(hint, detected, probability) == chosen


def test_the_session_and_the_worker_switch_at_the_same_probability():
    session_language = load_plugin_module("voice_input", "session_language")
    assert session_language.SWITCH_PROBABILITY == languages.SWITCH_PROBABILITY


def test_model_language_accepts_auto_and_whisper_codes_only():
    assert section_of(ModelSettings, {"language": "auto"}, "butler.model", []).language == "auto"
    assert section_of(ModelSettings, {"language": "fr"}, "butler.model", []).language == "fr"
    warnings: list[str] = []
    settings = section_of(ModelSettings, {"language": "fra"}, "butler.model", warnings)
    assert settings.language is None
    assert "butler.model.language" in warnings[0] and "'fr'" in warnings[0]


class FakeWhisper:
    """A multilingual model whose detections are scripted, one per 30 s window; it records
    the language each window is decoded in, as faster-whisper's multilingual mode does."""

    def __init__(self, detections: list[tuple[str, float]]) -> None:
        self.detections = list(detections)
        self.model = SimpleNamespace(is_multilingual=True, detect_language=self._detect)
        self.decoded_in: list[str] = []

    def _detect(self, encoder_output):
        language, probability = self.detections.pop(0)
        others = [(f"<|{code}|>", 0.01) for code in ("en", "fr", "es") if code != language]
        return [[(f"<|{language}|>", probability), *others]]

    def transcribe(self, audio, *, language, multilingual, **_):
        assert multilingual  # detection on the decoder's own encoder output, not a second one

        def pieces():  # lazily, window after window, as faster-whisper decodes
            for window in range(len(audio) // (30 * engine.SAMPLE_RATE)):
                # faster-whisper takes the first of the ranking as the window's language.
                token = self.model.detect_language(None)[0][0][0]
                self.decoded_in.append(token[2:-2])
                yield SimpleNamespace(start=30.0 * window, end=30.0 * window + 29, text="x")

        return pieces(), SimpleNamespace(language=language, language_probability=1)


def transcribe(detections, hint=None, windows=1):
    whisper = FakeWhisper(detections)
    audio = [0.0] * (30 * engine.SAMPLE_RATE * windows)
    options = engine.Options(language=None, hint=hint)
    return engine.Engine().transcribe(audio, whisper, options), whisper.decoded_in


def test_the_worker_transcribes_in_the_hint_unless_another_language_is_sure():
    transcript, decoded = transcribe([("en", 0.6)], hint="fr")
    assert decoded == ["fr"]
    assert (transcript.language, transcript.detected, transcript.probability) == ("fr", "en", 0.6)
    transcript, decoded = transcribe([("es", 0.95)], hint="fr")
    assert decoded == ["es"] and transcript.language == "es"
    transcript, decoded = transcribe([("de", 0.4)])
    assert decoded == ["de"] and transcript.language == "de"


def test_a_file_keeps_its_language_across_windows_and_reports_the_most_heard():
    transcript, decoded = transcribe([("fr", 0.99), ("en", 0.5), ("es", 0.9)], windows=3)
    assert decoded == ["fr", "fr", "es"] and transcript.language == "fr"
    assert (transcript.detected, transcript.probability) == ("fr", 0.99)


def test_the_detection_travels_on_the_wire_and_old_forms_still_read():
    transcript = requests_module.Transcript(
        text="bonjour", language="fr", detected_language="fr", language_probability=0.97
    )
    wire = transcript.to_wire()
    assert wire["detectedLanguage"] == "fr" and wire["languageProbability"] == 0.97
    assert requests_module.Transcript.from_wire(wire) == transcript
    old = requests_module.Transcript.from_wire({"text": "hi", "language": "en"})
    assert old.language_probability is None and old.detected_language == ""
    request = requests_module.TranscriptionRequest(path="/a.wav", language="auto")
    request = attrs_evolve(request, language_hint="fr")
    assert requests_module.TranscriptionRequest.from_wire(request.to_wire()) == request


def attrs_evolve(instance, **changes):
    import attrs

    return attrs.evolve(instance, **changes)


def test_a_session_language_is_the_first_heard_and_moves_only_when_sure():
    language = SessionLanguage("auto", "base", rules_for)
    assert language.current is None and language.request_options() == {
        "language": "auto",
        "language_hint": None,
    }
    assert language.observe("fr", 0.55) == "fr"  # the first utterance sets it, sure or not
    assert language.current == "fr" and language.heard
    assert language.request_options()["language_hint"] == "fr"
    assert language.observe("en", 0.6) == "en"  # transcribed in English, commands in English
    assert language.current == "fr"  # ...but the session stays French
    language.observe("es", 0.93)
    assert language.current == "es"
    assert language.rules() is rules_for("es")


def test_a_fixed_language_or_an_english_model_detects_nothing():
    fixed = SessionLanguage("de", "base", rules_for)
    assert fixed.request_options() == {"language": "de"}
    assert fixed.observe("fr", 0.99) is None and fixed.current == "de"
    english = SessionLanguage(None, "tiny.en", rules_for)
    assert english.request_options() == {"language": None}
    assert english.current == "en" and not english.heard


def test_italian_and_german_voice_commands():
    italian = interpret(
        "Ciao virgola nuova riga come va punto interrogativo ehm ok", rules_for("it")
    )
    assert italian.text == "Ciao,\ncome va? Ok"
    # "a capo" alone is an ordinary phrase ("at the head of"), not a line break.
    assert interpret("Sono a capo del progetto", rules_for("it")).text == "Sono a capo del progetto"
    german = interpret(
        "Hallo Komma ähm wie geht es Fragezeichen neuer Absatz Danke Punkt", rules_for("de")
    )
    assert german.text == "Hallo, wie geht es?\n\nDanke."
    assert interpret("lösch das", rules_for("de")).scratch


def make_session(tmp_path, editor, transcripts):
    """A session with ``model.language: auto`` on base whose worker answers utterance n with
    ``(text, detected language, probability)``."""
    requests: list = []

    class Speech:
        Request = requests_module.TranscriptionRequest

        async def transcribe(self, request, **_):
            requests.append(request)
            text, heard, probability = transcripts[int(samples_of(request).decode())]
            await asyncio.sleep(0.3 if text.startswith("Bonjour") else 0)
            return requests_module.Transcript(
                text=text,
                # As the worker decides, from the session's language the request carries.
                language=languages.choose_language(request.language_hint, heard, probability),
                detected_language=heard,
                language_probability=probability,
            )

    model = SimpleNamespace(language="auto", name="base", vocabulary=[])
    capabilities = {"speech.transcribe": Speech()}
    ctx = SimpleNamespace(
        show_warning=editor.show_warning,
        notify=editor.protocol.notify,
        settings=Settings(sections={"model": model}),
        require=capabilities.__getitem__,
        get=lambda name, default=None: capabilities.get(name, default),
        run_task=lambda coro, name: asyncio.ensure_future(coro),
        document=editor.workspace.text_documents.get,
        open_uris=lambda: list(editor.workspace.text_documents),
    )
    plugin = SimpleNamespace(
        ctx=ctx,
        spool=Spool(tmp_path / "spool"),
        rules=lambda language=None: rules_for(language),
        partial_text=False,
        session_ended=lambda session: None,
        dictated=DictatedWords(),
    )
    plugin.spool.open_session("s1", {})
    session = session_module.DictationSession(
        plugin, "s1", Source(), Anchor(editor, URI, None), Segmenter()
    )
    return session, requests


async def test_a_session_reports_its_language_and_uses_its_voice_commands(tmp_path):
    editor = Editor("")
    transcripts = {
        0: ("Bonjour à tous.", "fr", 0.97),
        1: ("Nouvelle ligne.", "en", 0.55),  # a short phrase heard unsurely: kept French
        2: ("Merci point", "fr", 0.9),
    }
    session, requests = make_session(tmp_path, editor, transcripts)
    await session.start()
    # All cut while the first is still being transcribed: the short ones (likely commands)
    # wait for the session's language rather than be guessed at alone.
    for index in range(3):
        await asyncio.to_thread(feed, session, index, 1.0)
    answer = await finish(session)
    assert editor.document.source == "Bonjour à tous.\nMerci."
    assert answer["language"] == "fr"
    assert [r.language for r in requests] == ["auto"] * 3
    assert [r.language_hint for r in requests] == [None, "fr", "fr"]
    # Short utterances carry the French command phrases as hotwords once French is known.
    assert "nouvelle ligne" in requests[1].vocabulary
    last = editor.states[-1]
    assert last["language"] == "fr" and last["languageDetected"] is True
