"""Whisper's spoken languages and the rule that picks one per utterance: the session's
language stays unless the model is confident the audio is in another (``choose_language``).
"""

from __future__ import annotations

import difflib
from typing import Any

AUTO = "auto"
"""``model.language``'s value (and the default for multilingual models): detect it."""

SWITCH_PROBABILITY = 0.9
"""A detection this sure of another language than the session's switches the session.

Measured with base (benchmarks/languages.py): real French and Spanish sentences are
detected right at 0.94-0.997, English ones at 0.95-0.999; short command phrases in
synthetic speech mostly as English, French "nouvelle ligne" at 0.76 and English "new line"
at 0.80: 0.8 would let a lone command move a session, 0.9 keeps every sentence above it."""

WHISPER_LANGUAGES = (
    *("af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs"),
    *("cy", "da", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu"),
    *("ha", "haw", "he", "hi", "hr", "ht", "hu", "hy", "id", "is", "it", "ja", "jw", "ka"),
    *("kk", "km", "kn", "ko", "la", "lb", "ln", "lo", "lt", "lv", "mg", "mi", "mk", "ml"),
    *("mn", "mr", "ms", "mt", "my", "ne", "nl", "nn", "no", "oc", "pa", "pl", "ps", "pt"),
    *("ro", "ru", "sa", "sd", "si", "sk", "sl", "sn", "so", "sq", "sr", "su", "sv", "sw"),
    *("ta", "te", "tg", "th", "tk", "tl", "tr", "tt", "uk", "ur", "uz", "vi", "yi", "yo"),
    *("zh", "yue"),
)
"""The codes multilingual Whisper models know (faster-whisper's list, without importing it)."""


def check_language(value: Any) -> str | None:
    """``model.language``'s check: unset, ``auto`` or one of Whisper's codes."""
    if value is None or value == AUTO or value in WHISPER_LANGUAGES:
        return None
    close = difflib.get_close_matches(str(value).lower(), WHISPER_LANGUAGES, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"must be auto or a Whisper language code such as en, fr, es, it, de{hint}"


def fixed_language(value: str | None) -> str | None:
    """The language a setting or request forces, None when it asks for detection."""
    return None if value in (None, "", AUTO) else value


def choose_language(
    hint: str | None, detected: str, probability: float, threshold: float = SWITCH_PROBABILITY
) -> str:
    """The language to transcribe in: ``detected``, unless a ``hint`` (the session's language)
    is given and the detection of another language is less sure than ``threshold``."""
    if hint is None or detected == hint or probability >= threshold:
        return detected
    return hint
