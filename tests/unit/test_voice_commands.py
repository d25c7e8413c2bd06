"""Voice commands: what a dictated utterance inserts, and how it joins the text before it.

Transcripts are written the way Whisper tiny.en returns them: its own capitals and punctuation.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import load_plugin_module

voice_commands = load_plugin_module("voice_input", "voice_commands")
RULES, Piece, Rules = voice_commands.RULES, voice_commands.Piece, voice_commands.Rules
interpret, join, rules_for = voice_commands.interpret, voice_commands.join, voice_commands.rules_for

EN = rules_for("en")

INTERPRET = [
    # Punctuation words become marks on the word before.
    ("hello comma world", "hello, world"),
    ("Hello there, comma how are you period", "Hello there, how are you."),
    ("hello, comma world", "hello, world"),
    ("Is it? Question mark.", "Is it?"),
    ("Is it question mark", "Is it?"),
    ("Wait exclamation mark", "Wait!"),
    ("Wait exclamation point.", "Wait!"),
    ("Stop full stop", "Stop."),
    ("Dear Sir colon", "Dear Sir:"),
    ("one semicolon two", "one; two"),
    ("wow exclamation mark exclamation mark", "wow!!"),
    # The model's sentence break before a spoken comma is undone, capital included.
    ("Hello. Comma. How are you?", "Hello, how are you?"),
    ("Hello. Comma. I am here.", "Hello, I am here."),
    ("Hello. Comma. NASA called.", "Hello, NASA called."),
    # A spoken sentence end capitalises what follows.
    ("done period next thing", "done. Next thing"),
    # Spoken marks with nothing before them stand alone, without a leading space.
    ("Period.", "."),
    ("Comma.", ","),
    ("comma and then", ", and then"),
    ("Question mark.", "?"),
    # Quotes around a command stay around the text.
    ('"Hello period"', '"Hello."'),
    # Line breaks: no spaces around them; the command's own period goes.
    ("Buy milk. New line. Call Bob.", "Buy milk.\nCall Bob."),
    ("Buy milk new line call Bob", "Buy milk\ncall Bob"),
    ("Buy milk, new line, call Bob.", "Buy milk\ncall Bob."),
    ("Buy milk comma new line call Bob", "Buy milk,\ncall Bob"),
    ("New line.", "\n"),
    ("new line, Hello.", "\nHello."),
    ("Newline. Next.", "\nNext."),
    ("First newline second", "First\nsecond"),
    ("First new-line second", "First\nsecond"),
    ("New Line.", "\n"),
    ("NEW LINE", "\n"),
    ("One. New paragraph. Two.", "One.\n\nTwo."),
    ("new line new line", "\n\n"),
    ("Title, new line, period", "Title\n."),
    # Commands must be whole words, and a phrase is not split by the model's punctuation.
    ("periodic commands", "periodic commands"),
    ("The comma-separated list", "The comma-separated list"),
    ("a new, line of work", "a new, line of work"),
    ("Periods and commas.", "Periods and commas."),
    # Fillers go, with the comma after them; "umbrella" stays.
    ("Um, I think", "I think"),
    ("Uh, so, um, yes.", "So, yes."),
    ("I think, um.", "I think."),
    ("Hello. Um, how are you?", "Hello. How are you?"),
    ("Take the umbrella, um, please", "Take the umbrella, please"),
    ("hmm erm uh", ""),
    ("Um.", ""),
    ("new um line", "\n"),
    # Pure punctuation is nothing.
    ("...", ""),
    ("", ""),
    ("   ", ""),
    (". , ?", ""),
    # The ambiguity the docs warn about: "period" as an ordinary word.
    ("a period of time", "a. Of time"),
    # Ordinary text is left exactly as the model wrote it.
    ("I don't know, e.g. 3.14 or U.S. stuff.", "I don't know, e.g. 3.14 or U.S. stuff."),
    ("  Hello   world  ", "Hello world"),
]


@pytest.mark.parametrize(("transcript", "text"), INTERPRET)
def test_interpret(transcript: str, text: str) -> None:
    assert interpret(transcript, EN) == Piece(text)


@pytest.mark.parametrize(
    ("transcript", "piece"),
    [
        ("Scratch that.", Piece("", scratch=True)),
        ("scratch that", Piece("", scratch=True)),
        ("Scratch that!", Piece("", scratch=True)),
        ("SCRATCH THAT,", Piece("", scratch=True)),
        ("Delete that.", Piece("", scratch=True)),
        ("Um, scratch that.", Piece("", scratch=True)),
        # Words before it in the same utterance are what it scratches.
        ("Buy milk, scratch that, buy eggs.", Piece("buy eggs.")),
        ("Buy milk. Scratch that.", Piece("")),
        # With nothing before it, it scratches the previous utterance and the rest is new.
        ("Scratch that. Buy eggs.", Piece("Buy eggs.", scratch=True)),
        ("Scratch that scratch that", Piece("", scratch=True)),
        ("scratch the car", Piece("scratch the car")),
    ],
)
def test_scratch_that(transcript: str, piece: Piece) -> None:
    assert interpret(transcript, EN) == piece


def test_keep_list_protects_names_after_a_spoken_comma() -> None:
    assert interpret("Hello. Comma. Bob is here.", EN).text == "Hello, bob is here."
    assert interpret("Hello. Comma. Bob is here.", EN, keep=["Bob"]).text == "Hello, Bob is here."


@pytest.mark.parametrize(
    ("language", "transcript", "text"),
    [
        ("fr", "Bonjour virgule ça va point d'interrogation", "Bonjour, ça va?"),
        ("fr", "Bonjour. Point d\u2019interrogation.", "Bonjour?"),
        ("fr", "Euh, première ligne. Nouvelle ligne. Deuxième.", "Première ligne.\nDeuxième."),
        ("fr-CA", "Un. Nouveau paragraphe. Deux.", "Un.\n\nDeux."),
        ("fr", "Annule ça.", ""),
        ("es", "Hola coma qué tal signo de interrogación", "Hola, qué tal?"),
        ("es", "uno punto y coma dos punto", "uno; dos."),
        # Whisper drops accents at times; the phrases still match.
        ("es", "Compra pan. Nueva linea. Llama a Ana.", "Compra pan.\nLlama a Ana."),
        ("es", "Este libro, eh, es bueno.", "Este libro, es bueno."),
        ("es_ES", "Nuevo párrafo.", "\n\n"),
        # English words are ordinary text in another language.
        ("fr", "new line comma", "new line comma"),
    ],
)
def test_other_languages(language: str, transcript: str, text: str) -> None:
    assert interpret(transcript, rules_for(language)).text == text


def test_language_fallbacks_and_scratch_in_french() -> None:
    assert rules_for(None) is RULES["en"]
    assert rules_for("nl") is RULES["en"]
    assert rules_for("EN-gb") is RULES["en"]
    assert interpret("Annule ça.", rules_for("fr")).scratch
    assert interpret("Borra eso", rules_for("es")).scratch


def test_overrides_replace_fields() -> None:
    rules = rules_for(
        "en",
        {
            "newLine": ["next line"],
            "punctuation": {"dot": ".", "open paren": "(", "close paren": ")", "dash": "-"},
            "fillers": [],
            "scratchThat": "undo",
            "newParagraph": None,
        },
    )
    assert rules.new_line == ("next line",)
    assert rules.scratch_that == ("undo",)
    assert rules.new_paragraph == RULES["en"].new_paragraph
    assert interpret("one next line two", rules).text == "one\ntwo"
    assert interpret("one new line two", rules).text == "one new line two"
    assert interpret("a period dot", rules).text == "a period."
    assert interpret("um yes", rules).text == "um yes"
    assert interpret("call open paren maybe close paren dash soon", rules).text == (
        "call (maybe) - soon"
    )
    assert interpret("Undo.", rules).scratch
    # The defaults are untouched.
    assert RULES["en"] == Rules()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"newline": ["x"]}, "did you mean 'newLine'"),
        ({"bogus": ["x"]}, "bogus"),
        ({"newLine": 3}, "newLine"),
        ({"fillers": ["um", ""]}, "fillers"),
        ({"scratchThat": [None]}, "scratchThat"),
        ({"punctuation": ["period"]}, "punctuation"),
        ({"punctuation": {"dot": ""}}, "punctuation.dot"),
        ({"punctuation": {"...": "."}}, "punctuation...."),
    ],
)
def test_invalid_overrides_name_the_key(overrides: dict, named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        rules_for("en", overrides)


JOIN = [
    # Spacing.
    ("", "hello", "Hello"),
    ("Hello", "world", " world"),
    ("Hello ", "world", "world"),
    ("Hello\t", "world", "world"),
    ("Hello", ", world", ", world"),
    ("Hello", ".", "."),
    ("Hello", "?", "?"),
    ("Hello", "\nCall Bob.", "\nCall Bob."),
    ("Hello (", "Then", "then"),
    ("Hello", "  world", " world"),
    ('He said "', "hi", "hi"),
    # Capitals at a sentence or line start.
    ("   ", "hello", "hello".capitalize()),
    ("It rained.", "then it stopped", " Then it stopped"),
    ("Really?", "yes", " Yes"),
    ('"Stop!"', "she said", " She said"),
    ("(See above.)", "next", " Next"),
    ("Buy milk\n", "call Bob", "Call Bob"),
    ("Notes\n\n", "today", "Today"),
    ("- ", "buy milk", "Buy milk"),
    ("- [ ] ", "call", "Call"),
    ("1. ", "first", "First"),
    ("## ", "plans", "Plans"),
    ('"', "hello", "Hello"),
    # Mid-sentence the model's utterance-start capital is dropped...
    ("I went home", "Then I slept.", " then I slept."),
    ("I went home,", "And slept.", " and slept."),
    ("Pick", "A card", " a card"),
    # ...but not from "I", acronyms, inner capitals, days, months or the user's words.
    ("and then", "I'm done", " I'm done"),
    ("and then", "I slept", " I slept"),
    ("we called", "NASA today", " NASA today"),
    ("I bought an", "iPhone", " iPhone"),
    ("we met", "McDonald there", " McDonald there"),
    ("see you", "Monday", " Monday"),
    ("we go in", "May", " may"),
    ("Hello", "Bob", " bob"),
    # Punctuation first: nothing to change.
    ("Hello", ", And", ", And"),
    ("Hello", "3 apples", " 3 apples"),
]


@pytest.mark.parametrize(("before", "piece", "inserted"), JOIN)
def test_join(before: str, piece: str, inserted: str) -> None:
    assert join(before, piece) == inserted


def test_join_keep_and_sentence_end_override() -> None:
    assert join("Hello", "Bob is here", keep=["Bob"]) == " Bob is here"
    assert join("Hello", "New York calls", keep=["New York"]) == " New York calls"
    assert join("Dr.", "Smith", sentence_end=False, keep=["Smith"]) == " Smith"
    assert join("e.g.", "Apples", sentence_end=False) == " apples"
    assert join("Hello", "then", sentence_end=True) == " Then"
    assert join("Hello", "") == ""
    assert join("Hello", "   ") == ""


def test_interpret_then_join() -> None:
    before = "Shopping list:\n"
    piece = interpret("Buy milk. New line. Call Bob.", EN)
    before += join(before, piece.text)
    piece = interpret("And then, comma, eggs", EN)
    assert (
        before + join(before, piece.text) == "Shopping list:\nBuy milk.\nCall Bob. And then, eggs"
    )


# Property tests.

ORDINARY = ["hello", "world", "the", "cat", "I", "NASA", "Bob", "um", "stop", "marks", "periodic"]
SINGLE = {"comma", "period", "colon", "semicolon", "newline"}
PHRASES = [
    "new line",
    "new paragraph",
    "question mark",
    "exclamation mark",
    "exclamation point",
    "full stop",
]
COMMAND_WORDS = sorted({word for phrase in [*SINGLE, *PHRASES] for word in phrase.split()})


@settings(max_examples=300)
@given(st.text())
def test_interpret_never_raises_on_any_text(transcript: str) -> None:
    for rules in RULES.values():
        piece = interpret(transcript, rules)
        assert not piece.text.startswith(" ")
        assert piece.text == piece.text.strip(" ")


@settings(max_examples=500)
@given(st.lists(st.sampled_from(COMMAND_WORDS + ORDINARY), max_size=12))
def test_spoken_commands_never_survive(words: list[str]) -> None:
    text = interpret(" ".join(words), EN).text
    lowered = text.lower()
    assert SINGLE.isdisjoint(re.findall(r"\w+", lowered))
    for phrase in PHRASES:
        assert not re.search(rf"\b{phrase}\b", lowered), (words, text)
    assert not text.startswith(" ")


BEFORE = st.text(alphabet="ab .,?!\n\t-#(\"'", max_size=12)
PIECE = st.text(alphabet="abAB I'm.,?!:;\n -()", max_size=12)


@settings(max_examples=500)
@given(BEFORE, PIECE)
def test_join_spacing(before: str, piece: str) -> None:
    inserted = join(before, piece)
    assert not inserted.startswith("  ")
    if before[-1:].isspace():
        assert not inserted.startswith(" ")
    if inserted[:1] == " ":
        assert inserted[1:2] not in ",.?!:;"
    stripped = piece.lstrip(" \t")
    if before[-1:].isalnum() and stripped[:1].isalnum():
        assert inserted[0] == " " and inserted[1] != " "
    # Only the first letter's case may change.
    assert inserted.lstrip(" ").lower() == stripped.lower()
