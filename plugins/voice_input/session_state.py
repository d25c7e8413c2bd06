"""``butler/dictationState``: what a running session tells the editor about itself, about ten
times a second (state, level, pending utterances, provisional text, where it writes)."""

from __future__ import annotations

from typing import Any


def dictation_state(session: Any, level: float) -> dict[str, Any]:
    """The notification's parameters for ``session`` (a ``DictationSession``) now."""
    state: dict[str, Any] = {
        "sessionId": session.id,
        "state": session.state,
        "pending": session.pending,
        "target": session.target,
        "source": session.source.kind,
        "partial": session.partial,
    }
    if session.state == "listening":
        state["level"] = round(level, 1)
    if session.message:
        state["message"] = session.message
    if session.anchor is not None:
        state["uri"] = session.anchor.uri
        position = session.anchor.position()
        if position is not None:
            state["position"] = {"line": position.line, "character": position.character}
    return state
