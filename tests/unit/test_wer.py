"""Unit tests for butler_ls.util.word_errors: normalization and word error rates.

The convention: lowercase, strip punctuation, spell out digits, then count word edits.
"""

from __future__ import annotations

import pytest

from butler_ls.util.word_errors import corpus_wer, normalize, number_words, wer, word_errors


def test_corpus_reference_line() -> None:
    words = normalize("1 From fairest creatures we desire increase,")
    assert words[:3] == ["one", "from", "fairest"]
    assert words == ["one", "from", "fairest", "creatures", "we", "desire", "increase"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2934", "two thousand nine hundred thirty four"),
        ("0", "zero"),
        ("1", "one"),
        ("15", "fifteen"),
        ("40", "forty"),
        ("100", "one hundred"),
        ("101", "one hundred one"),
        ("1000000", "one million"),
        ("1,000,001", "one million one"),
        ("2,500 pages", "two thousand five hundred pages"),
        ("1,2", "one two"),
        ("3.14", "three point one four"),
        ("007", "zero zero seven"),
        (
            "1st 2nd 3rd 4th 12th 20th 21st 100th",
            "first second third fourth twelfth twentieth twenty first one hundredth",
        ),
        ("50%", "fifty percent"),
        ("5pm on route66", "five pm on route sixty six"),
    ],
)
def test_numbers_are_spelled_out(text: str, words: str) -> None:
    assert normalize(text) == words.split()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("THE END.", ["the", "end"]),
        ("beauty's rose", ["beautys", "rose"]),
        ("beauty\u2019s rose", ["beautys", "rose"]),
        ("'Tis so", ["tis", "so"]),
        ("well-known self_made", ["well", "known", "self", "made"]),
        ("Wait... what?! (really)", ["wait", "what", "really"]),
        ("Señor, ¿qué tal? Ça va.", ["señor", "qué", "tal", "ça", "va"]),
        ("  \n\t ", []),
        ("", []),
    ],
)
def test_case_and_punctuation(text: str, words: list[str]) -> None:
    assert normalize(text) == words


def test_number_words() -> None:
    assert number_words(0) == ["zero"]
    assert number_words(90) == ["ninety"]
    assert number_words(1_000_000_000) == ["one", "billion"]
    assert number_words(-7) == ["minus", "seven"]


def test_identical_after_normalization_is_perfect() -> None:
    assert wer("Sonnet 18: Shall I compare thee?", "sonnet eighteen shall i compare thee") == 0.0


def test_substitution_deletion_insertion() -> None:
    assert word_errors("the cat sat", "the bat sat") == (1, 3)
    assert word_errors("the cat sat", "the sat") == (1, 3)
    assert word_errors("the cat sat", "the cat sat down") == (1, 3)
    assert word_errors("a b c d", "x a b d y z") == (4, 4)
    assert wer("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(1 / 6)
    assert wer("one two", "three four five six") == 2.0


def test_empty_sides() -> None:
    assert wer("", "") == 0.0
    assert wer("hello there", "") == 1.0
    assert wer("", "hello there") == 2.0  # insertions counted against at least one word


def test_corpus_wer_weights_by_reference_length() -> None:
    pairs = [("the cat sat", "the bat sat"), ("a b c d e f g", "a b c d e f g")]
    assert corpus_wer(pairs) == pytest.approx(1 / 10)
    assert corpus_wer(iter(pairs)) == pytest.approx(1 / 10)
    assert corpus_wer([]) == 0.0
