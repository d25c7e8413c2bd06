"""Dictation a dead server left in the spool goes to today's note, under "Recovered dictation".

Each broken session becomes one entry; its audio is dropped only once the entry is written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from .session_language import SessionLanguage
from .settings import model_language, model_name, model_vocabulary
from .utterance_jobs import SHORT_SPEECH, audio_request, command_phrases, context
from .voice_commands import Rules, interpret, join

if TYPE_CHECKING:
    from butler_ls.plugin_api import PluginContext

    from .spool import Spool

logger = logging.getLogger(__name__)

SECTION = "Recovered dictation"
"""The heading recovered dictation goes under in the daily note."""

RETRY_SECONDS = 30.0
"""How long to wait before trying again when the worker or the note cannot be reached."""


async def recover_orphans(
    spool: Spool, ctx: PluginContext, rules: Callable[[str | None], Rules]
) -> None:
    """Transcribe and file every session whose server is gone; retry until it worked.

    ``rules`` gives the voice commands as the settings ask for them at the time.
    """
    while True:
        try:
            sessions = await asyncio.to_thread(spool.orphaned_sessions)
        except Exception:
            logger.exception("looking for interrupted dictation failed")
            return
        if not sessions:
            return
        failures = 0
        for session_id in sessions:
            try:
                await recover_session(spool, ctx, rules, session_id)
            except Exception as exc:
                failures += 1
                logger.warning("recovering dictation session %s failed: %s", session_id, exc)
        if not failures:
            return
        await asyncio.sleep(RETRY_SECONDS)


async def recover_session(
    spool: Spool, ctx: PluginContext, rules: Callable[[str | None], Rules], session_id: str
) -> str:
    """File one broken session's unapplied utterances as one entry; returns the text."""
    items = await asyncio.to_thread(spool.pending, session_id)
    info = await asyncio.to_thread(spool.session_info, session_id) or {}
    if not items:
        await asyncio.to_thread(spool.close_session, session_id, discard=True)
        return ""
    logger.info("recovering %d dictated utterances of session %s", len(items), session_id)
    speech = ctx.require("speech.transcribe")
    # Its language is found again as a live session finds it.
    languages = SessionLanguage(model_language(ctx.settings), model_name(ctx.settings), rules)
    vocabulary = model_vocabulary(ctx.settings)
    text = ""
    for item in sorted(items, key=lambda item: item.index):
        # The spooled WAV by reference, asked for as a live session asks: the unfinished
        # sentence as context (finished ones tripled the error rate), commands as the
        # hotwords of a short utterance, no second voice detector.
        short = 0 < item.end - item.start <= SHORT_SPEECH
        request = audio_request(
            speech,
            item.path,
            priority="interactive",
            **languages.request_options(),
            prompt="" if short else context(text),
            vocabulary=command_phrases(languages.rules()) if short else (),
            vad=False,
        )
        result = await speech.transcribe(request)
        heard = languages.observe(result.language, result.language_probability)
        piece = interpret(result.text, languages.rules(heard), keep=vocabulary)
        text += join(text, piece.text, keep=vocabulary)
    text = text.strip()
    if text:
        started = info.get("created")
        when = (
            dt.datetime.fromtimestamp(started).strftime("%Y-%m-%d %H:%M")
            if isinstance(started, int | float)
            else "an earlier session"
        )
        where = (info.get("metadata") or {}).get("uri")
        origin = f"(dictated {when}" + (f" into {where}" if where else "") + ")"
        await ctx.require("notes.daily").append(f"{text} {origin}", section=SECTION)
    await asyncio.to_thread(spool.close_session, session_id, discard=True)
    return text
