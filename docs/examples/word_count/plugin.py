"""Example plugin: counts words in open documents.

Shows a command with typed arguments, a capability, a setting, a signal receiver, and a
background job that runs in Butler's worker (jobs.py).
"""

from __future__ import annotations

from pathlib import Path

import attrs

from butler_ls.plugin_api import ButlerError, FilePath, Plugin, PluginContext, events

from .counting import count_words
from .settings import WordCountSettings


@attrs.frozen
class WordCountArguments:
    """Argument of ``example.wordCount``."""

    uri: str
    """The document to count, as the editor names it (it must be open)."""


@attrs.frozen
class WordCountFileArguments:
    """Argument of ``example.wordCountFile``."""

    path: FilePath
    """The text file to count (relative paths start at the workspace folder)."""


class WordCounter:
    """The ``text.wordCount`` capability: other plugins may count words too."""

    def __init__(self, settings: WordCountSettings) -> None:
        self.settings = settings

    def count(self, text: str) -> int:
        """Number of words in ``text``."""
        return count_words(text, self.settings.count_numbers, self.settings.min_length)


class WordCountPlugin(Plugin):
    """Registers the command, the capability and a receiver."""

    def activate(self, ctx: PluginContext) -> None:
        """Wire everything up; Butler undoes it all when the plugin stops."""
        self.ctx = ctx
        # This plugin's section, an instance of its settings class (checked by Butler).
        self.counter = WordCounter(ctx.plugin_settings)
        self.changes = 0
        ctx.provide("text.wordCount", self.counter)
        ctx.command("example.wordCount", self.word_count, arguments=WordCountArguments)
        ctx.command("example.wordCountFile", self.word_count_file, arguments=WordCountFileArguments)
        ctx.connect(events.document_changed, self.on_change)

    def on_change(self, sender: object, **kwargs: object) -> None:
        """Count edits, to show a receiver; a real plugin might refresh a cache here."""
        self.changes += 1

    def word_count(self, args: WordCountArguments) -> dict[str, object]:
        """Answer ``{uri, words, changesSeen}`` for an open document."""
        document = self.ctx.document(args.uri)
        if document is None:
            raise ButlerError(f"{args.uri} is not open; open it in the editor first")
        notes = self.ctx.get("notes.daily")
        return {
            "uri": args.uri,
            "words": self.counter.count(document.source),
            "changesSeen": self.changes,
            "notesFolder": str(notes.directory()) if notes is not None else None,
        }

    async def word_count_file(self, args: WordCountFileArguments) -> dict[str, object]:
        """Count a file's words in the worker, as batch work: it waits while the machine
        is busy (``throttle.*``), like the built-in batch jobs. Answers the job's result."""
        jobs = self.ctx.get("queue.jobs")
        if jobs is None:
            raise ButlerError("counting files needs the task_queue plugin; enable it")
        path = Path(args.path).expanduser()
        if not path.is_absolute():
            path = (self.ctx.workspace_root() or Path.cwd()) / path
        if not path.is_file():
            raise ButlerError(f"{path} is not a file; name a text file")
        settings = self.counter.settings
        payload = {
            "path": str(path),
            "countNumbers": settings.count_numbers,
            "minLength": settings.min_length,
        }
        try:
            return await jobs.submit("example.count_file", payload)
        except jobs.Error as exc:
            raise ButlerError(f"counting {path.name} failed: {exc}") from None
