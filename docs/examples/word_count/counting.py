"""The word-counting rule, shared by the server side (plugin.py) and the worker (jobs.py).

Kept apart so the worker imports only this, never the server-side plugin module.
"""

from __future__ import annotations

import re


def word_pattern(count_numbers: bool) -> re.Pattern[str]:
    """What counts as a word: with ``count_numbers``, "42" is one too."""
    return re.compile(r"[\w'-]+" if count_numbers else r"[^\W\d_][\w'-]*")


def count_words(text: str, count_numbers: bool = True, min_length: int = 1) -> int:
    """Number of words in ``text`` at least ``min_length`` characters long."""
    return sum(len(word) >= min_length for word in word_pattern(count_numbers).findall(text))
