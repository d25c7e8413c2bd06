"""Word error rate with the speech corpus's scoring convention.

Both sides are normalized the same way first: lowercase, punctuation stripped, digits spelled out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["corpus_wer", "normalize", "number_words", "wer", "word_errors"]

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ["_", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion"]
_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}

# A number: "2934", "1,000,000" (commas only between groups of three), "3.14", "21st".
_NUMBER = re.compile(
    r"(\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.(\d+))?(?:(st|nd|rd|th)(?![^\W\d_]))?",
)
_APOSTROPHES = re.compile(r"['`\u2018\u2019\u02bc\u2032]")
# Everything that is not a letter or a digit separates words (hyphens and underscores too).
_SEPARATORS = re.compile(r"[\W_]+")


def normalize(text: str) -> list[str]:
    """The words of ``text`` as scoring sees them.

    Lowercase; numbers spelled out in English ("2934" is "two thousand nine hundred thirty
    four", "21st" is "twenty first", "3.5" is "three point five", "50%" is "fifty percent");
    apostrophes removed so "beauty's" is "beautys"; hyphens and other punctuation split
    words; letters of any script, accents included, are kept.
    """
    text = unicodedata.normalize("NFKC", str(text)).lower()
    text = text.replace("%", " percent ")
    text = _NUMBER.sub(_spell_number, text)
    text = _APOSTROPHES.sub("", text)
    return _SEPARATORS.sub(" ", text).split()


def number_words(number: int) -> list[str]:
    """``number`` (0 or more) in English words, without "and": 115 is one hundred fifteen."""
    if number < 0:
        return ["minus", *number_words(-number)]
    if number < 20:
        return [_ONES[number]]
    if number < 100:
        tens, ones = divmod(number, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return [_ONES[hundreds], "hundred"] + (number_words(rest) if rest else [])
    words: list[str] = []
    scale = 0
    while number:
        number, group = divmod(number, 1000)
        if group:
            named = [] if scale == 0 else [_SCALES[scale]]
            words = number_words(group) + named + words
        scale += 1
    return words


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, number of reference words), after normalizing."""
    ref = normalize(reference)
    hyp = normalize(hypothesis)
    return _edit_distance(ref, hyp), len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference``: 0.0 is perfect; it can exceed 1.

    An empty reference scores the number of inserted words (0.0 when both are empty).
    """
    errors, words = word_errors(reference, hypothesis)
    return errors / max(words, 1)


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> float:
    """Word error rate over many (reference, hypothesis) pairs: total errors / total words."""
    errors = words = 0
    for reference, hypothesis in pairs:
        pair_errors, pair_words = word_errors(reference, hypothesis)
        errors += pair_errors
        words += pair_words
    return errors / max(words, 1)


def _edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words, keeping one row of the table at a time."""
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(
                min(
                    previous[j] + 1,  # the reference word was dropped
                    current[j - 1] + 1,  # a word was inserted
                    previous[j - 1] + (ref_word != hyp_word),  # kept or substituted
                )
            )
        previous = current
    return previous[-1]


def _spell_number(match: re.Match[str]) -> str:
    whole, fraction, ordinal = match.groups()
    digits = whole.replace(",", "")
    if (len(digits) > 1 and digits.startswith("0")) or len(digits) > 21:
        # "007" and card numbers are read digit by digit, not as one quantity.
        words = [_ONES[int(d)] for d in digits]
    else:
        words = number_words(int(digits))
    if fraction:
        words += ["point", *(_ONES[int(d)] for d in fraction)]
    elif ordinal:
        words[-1] = _ordinal(words[-1])
    return f" {' '.join(words)} "


def _ordinal(word: str) -> str:
    if word in _ORDINALS:
        return _ORDINALS[word]
    if word.endswith("y"):
        return word[:-1] + "ieth"
    return word + "th"
