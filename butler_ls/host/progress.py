"""Work-done progress (``$/progress``) for one piece of work, cancellable by the user.

Silent when the client does not support it, so callers report without asking first.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Protocol

from lsprotocol import types


class ProgressClient(Protocol):
    """What progress needs of the server: the client's capabilities and pygls' tracker."""

    @property
    def client_capabilities(self) -> types.ClientCapabilities:
        """What the client said it supports."""
        ...

    @property
    def work_done_progress(self) -> Any:
        """pygls' ``$/progress`` helper."""
        ...


class Progress:
    """``$/progress`` for one piece of work, if the client supports it; cancellable."""

    def __init__(self, client: ProgressClient, title: str) -> None:
        self._client = client
        self.title = title
        window = client.client_capabilities.window
        self.enabled = bool(window and window.work_done_progress)
        self.token = f"butler-{uuid.uuid4().hex[:12]}"
        self._cancel = asyncio.Event()

    async def begin(self) -> None:
        """Create the token and show the progress."""
        if not self.enabled:
            return
        tracker = self._client.work_done_progress
        try:
            await tracker.create_async(self.token)
        except Exception:
            self.enabled = False
            return
        tracker.begin(
            self.token,
            types.WorkDoneProgressBegin(title=self.title, cancellable=True, percentage=0),
        )
        future = tracker.tokens.get(self.token)
        if future is not None:
            future.add_done_callback(lambda f: self._cancel.set())

    async def report(self, message: str, percentage: int | None) -> None:
        """Update the message (and the percentage)."""
        if self.enabled:
            self._client.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    async def cancelled(self) -> None:
        """Return when the user cancels."""
        await self._cancel.wait()

    async def end(self) -> None:
        """Hide the progress."""
        if self.enabled:
            self._client.work_done_progress.end(self.token, types.WorkDoneProgressEnd())
