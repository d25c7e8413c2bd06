"""The voice commands of each language: their phrases, and the user's overrides of them.

``rules_for`` picks a language's rules; voice_commands.py applies them to a transcript.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["CASES", "RULES", "Rules", "rules_for"]

_EN_MARKS = {"period": ".", "full stop": ".", "comma": ",", "colon": ":", "semicolon": ";"}
_EN_MARKS |= {"question mark": "?", "exclamation mark": "!", "exclamation point": "!"}
_FR_MARKS = {"point": ".", "virgule": ",", "point d'interrogation": "?"}
_FR_MARKS |= {"point d'exclamation": "!"}
_ES_MARKS = {"punto": ".", "coma": ",", "punto y coma": ";", "signo de interrogación": "?"}
_ES_MARKS |= {"signo de exclamación": "!"}
_IT_MARKS = {"punto": ".", "virgola": ",", "punto interrogativo": "?"}
_IT_MARKS |= {"punto esclamativo": "!", "punto e virgola": ";"}
_DE_MARKS = {"Punkt": ".", "Komma": ",", "Fragezeichen": "?", "Ausrufezeichen": "!"}
_DE_MARKS |= {"Doppelpunkt": ":", "Semikolon": ";"}
_EN_CASES = {"camel case": "camel", "snake case": "snake", "pascal case": "pascal"}
_EN_CASES |= {"kebab case": "kebab", "constant case": "constant"}
_EN_CASES |= {"screaming snake case": "constant"}
CASES = ("camel", "snake", "pascal", "kebab", "constant")


@attrs.frozen
class Rules:
    """Spoken commands of one language, matched as whole words ignoring case and accents.

    "period" is also an ordinary word ("a period of time" becomes "a. Of time"): users who
    dictate such words can override the phrases in their settings (see ``rules_for``).
    """

    new_line: tuple[str, ...] = ("new line", "newline")
    """Phrases that insert a line break."""

    new_paragraph: tuple[str, ...] = ("new paragraph",)
    """Phrases that insert a blank line."""

    punctuation: Mapping[str, str] = attrs.field(default=_EN_MARKS, converter=dict, hash=False)
    """Spoken name -> mark. ``,.;:!?)`` attach to the word before, ``(¿«`` to the word after."""

    scratch_that: tuple[str, ...] = ("scratch that", "delete that")
    """Phrases that drop this utterance's words before them, else the previous utterance."""

    fillers: tuple[str, ...] = ("um", "uh", "er", "erm", "uhm", "hmm")
    """Hesitations dropped from the text, with the comma the model puts after them."""

    casing: Mapping[str, str] = attrs.field(default=_EN_CASES, converter=dict, hash=False)
    """Spoken name -> style (one of ``CASES``): the words after it, up to a punctuation mark,
    a spoken command or the utterance's end, become one name ("camel case user id": userId)."""


# French, Spanish, Italian and German are a start, kept small on purpose: each phrase is
# also a chance to eat an ordinary word ("point de vue"), so they grow from what users
# report. Their casing phrases are the English ones: "camel case" is programmers' jargon.
RULES: dict[str, Rules] = {
    "en": Rules(),
    "fr": Rules(
        new_line=("nouvelle ligne", "à la ligne"),
        new_paragraph=("nouveau paragraphe",),
        punctuation=_FR_MARKS,
        scratch_that=("annule ça",),
        fillers=("euh", "heu"),
    ),
    # No "este" among the fillers: it is also "this", one of the commonest Spanish words.
    "es": Rules(
        new_line=("nueva línea",),
        new_paragraph=("nuevo párrafo",),
        punctuation=_ES_MARKS,
        scratch_that=("borra eso",),
        fillers=("eh", "em"),
    ),
    # Not the bare "a capo": it is also "at the head of" ("a capo del progetto").
    "it": Rules(
        new_line=("nuova riga", "vai a capo"),
        new_paragraph=("nuovo paragrafo",),
        punctuation=_IT_MARKS,
        scratch_that=("cancella questo",),
        fillers=("ehm", "uhm"),
    ),
    # Not "also" or "na" among the fillers: both are ordinary words.
    "de": Rules(
        new_line=("neue Zeile",),
        new_paragraph=("neuer Absatz",),
        punctuation=_DE_MARKS,
        scratch_that=("lösch das",),
        fillers=("äh", "ähm", "öhm"),
    ),
}

_PHRASE_FIELDS = {
    "newLine": "new_line",
    "newParagraph": "new_paragraph",
    "scratchThat": "scratch_that",
    "fillers": "fillers",
}
_OVERRIDE_KEYS = [*_PHRASE_FIELDS, "punctuation", "casing"]


def rules_for(language: str | None, overrides: Mapping[str, Any] | None = None) -> Rules:
    """The rules of ``language`` ("fr", "en-GB"; unknown or unset is English) with overrides.

    ``overrides`` uses the settings' camelCase keys; each one given replaces the whole field
    (an empty list switches that command off). A bad key or value raises ValueError naming it.
    """
    code = (language or "en").strip().lower().replace("_", "-").split("-")[0]
    rules = RULES.get(code, RULES["en"])
    if not overrides:
        return rules
    if not isinstance(overrides, Mapping):
        raise ValueError(f"voice commands: expected a mapping of overrides, got {overrides!r}")
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "punctuation":
            if not isinstance(value, Mapping):
                raise ValueError(f"punctuation: expected a mapping phrase -> mark, got {value!r}")
            changes["punctuation"] = {
                _text(f"punctuation.{name}", name): _text(f"punctuation.{name}", mark, mark=True)
                for name, mark in value.items()
            }
        elif key == "casing":
            if not isinstance(value, Mapping):
                raise ValueError(f"casing: expected a mapping phrase -> style, got {value!r}")
            for name, style in value.items():
                if style not in CASES:
                    raise ValueError(f"casing.{name}: expected one of {list(CASES)}, got {style!r}")
            changes["casing"] = {_text(f"casing.{name}", name): value[name] for name in value}
        elif key in _PHRASE_FIELDS:
            # A lone string is one phrase: iterating it would give one phrase per letter.
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list | tuple):
                raise ValueError(f"{key}: expected a list of phrases, got {value!r}")
            changes[_PHRASE_FIELDS[key]] = tuple(_text(key, item) for item in items)
        else:
            close = difflib.get_close_matches(str(key), _OVERRIDE_KEYS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"use one of {_OVERRIDE_KEYS}"
            raise ValueError(f"{key}: unknown voice command setting; {hint}")
    return attrs.evolve(rules, **changes)


def _text(key: str, value: Any, *, mark: bool = False) -> str:
    """A phrase (it needs a word) or a mark (it needs a character), with its spaces tidied."""
    if not isinstance(value, str) or not re.search(r"\S" if mark else r"\w", value):
        what = "a non-blank mark" if mark else "a phrase with at least one word"
        raise ValueError(f"{key}: expected {what}, got {value!r}")
    return " ".join(value.split())
