"""The language of a dictation session: fixed by ``model.language``, or detected from its
first utterance and kept unless a later one is confidently another (the worker's rule too).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from .voice_commands import Rules

AUTO = "auto"

SWITCH_PROBABILITY = 0.9
"""As the transcriber's ``languages.SWITCH_PROBABILITY`` (plugins never import each other):
an utterance detected as another language at least this surely switches the session."""

LANGUAGE_WAIT = 4.0
"""At most this many seconds a short utterance (likely a command) waits for the session's
language before it is transcribed; only while the first utterance is still on its way."""


class SessionLanguage:
    """What a session dictates in, and the voice commands of that language."""

    def __init__(
        self,
        setting: str | None,
        model_name: str,
        rules: Callable[[str | None], Rules],
        threshold: float = SWITCH_PROBABILITY,
    ) -> None:
        fixed = None if setting in (None, "", AUTO) else setting
        self.fixed = fixed
        """``model.language`` when it names a language."""
        self.detecting = fixed is None and not model_name.endswith(".en")
        """Whether the language is detected (a multilingual model, ``auto`` or unset)."""
        self.current: str | None = fixed or ("en" if model_name.endswith(".en") else None)
        """The session's language; None until the first utterance is heard."""
        self.heard = False
        """Whether ``current`` comes from detection (the editors show it then)."""
        self._rules = rules
        self._threshold = threshold
        self._by_language: dict[str | None, Rules] = {}
        self._known = asyncio.Event()

    def request_options(self) -> dict[str, Any]:
        """The language fields of an utterance's request: ``auto`` with the session's
        language as the hint, or the fixed language (None: the worker's model decides)."""
        if self.detecting:
            return {"language": AUTO, "language_hint": self.current}
        return {"language": self.fixed}

    def observe(self, language: str, probability: float | None) -> str | None:
        """Take an applied utterance's transcript into account; the language it was
        transcribed in (its voice commands' language), None when nothing was detected."""
        if not self.detecting or probability is None or not language:
            return None
        if self.current is None or language == self.current or probability >= self._threshold:
            self.current = language
            self.heard = True
            self._known.set()
        return language

    async def known(self, timeout: float = LANGUAGE_WAIT) -> None:
        """Return once the session's language is known, or after ``timeout``."""
        if self.current is None and self.detecting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._known.wait(), timeout)

    def rules(self, language: str | None = None) -> Rules:
        """The voice commands of ``language`` (default: the session's), with the overrides."""
        key = language or self.current
        if key not in self._by_language:
            self._by_language[key] = self._rules(key)
        return self._by_language[key]
