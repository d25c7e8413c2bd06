"""Example plugin: counts words in open documents.

Shows a command with typed arguments, a capability, a setting and a signal receiver.
"""

from __future__ import annotations

import re

import attrs

from butler_ls.plugin_api import ButlerError, Plugin, PluginContext, events


@attrs.frozen
class WordCountArguments:
    """Argument of ``example.wordCount``."""

    uri: str
    """The document to count, as the editor names it (it must be open)."""


class WordCounter:
    """The ``text.wordCount`` capability: other plugins may count words too."""

    def __init__(self, count_numbers: bool) -> None:
        self.count_numbers = count_numbers

    def count(self, text: str) -> int:
        """Number of words in ``text``."""
        pattern = r"[\w'-]+" if self.count_numbers else r"[^\W\d_][\w'-]*"
        return len(re.findall(pattern, text))


class WordCountPlugin(Plugin):
    """Registers the command, the capability and a receiver."""

    def activate(self, ctx: PluginContext) -> None:
        """Wire everything up; Butler undoes it all when the plugin stops."""
        self.ctx = ctx
        self.counter = WordCounter(bool(ctx.plugin_settings["countNumbers"]))
        self.changes = 0
        ctx.provide("text.wordCount", self.counter)
        ctx.command("example.wordCount", self.word_count, arguments=WordCountArguments)
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
