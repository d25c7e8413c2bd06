"""TaskRunner: the one owner of Butler's background asyncio tasks.

It keeps each task alive until it ends, logs a failure once, and cancels what is left at shutdown.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["TaskRunner", "default_runner", "set_default_runner"]

logger = logging.getLogger(__name__)


class TaskRunner:
    """Runs coroutines as named background tasks, owned until they end."""

    def __init__(self) -> None:
        # The loop holds only weak references to its tasks: without this set, a task
        # nobody awaits could be garbage collected half way.
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> int:
        """How many tasks have started and not ended yet."""
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as task ``name`` on the running loop; its failure is logged once.

        Raises RuntimeError (and closes ``coro``) when called outside a running loop.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()  # no "coroutine was never awaited" warning on top of the error
            raise RuntimeError(
                f"background task {name!r} needs a running event loop; "
                f"spawn it from a coroutine or a callback on the server's loop"
            ) from None
        task = loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def spawn_threadsafe(
        self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], name: str
    ) -> concurrent.futures.Future[Any]:
        """From another thread: spawn ``coro`` on ``loop``; the future gets the task's outcome.

        Cancelling the future cancels the task.
        """
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def start() -> None:
            if future.cancelled():
                coro.close()
                return
            task = self.spawn(coro, name)
            task.add_done_callback(lambda task: _copy_outcome(task, future))
            future.add_done_callback(lambda f: f.cancelled() and _cancel_on_its_loop(task))

        loop.call_soon_threadsafe(start)
        return future

    def cancel_all(self) -> int:
        """Ask every running task to stop; returns how many were asked."""
        current = _current_task()
        asked = 0
        for task in list(self._tasks):
            # A task of a loop that is gone can never end; it only holds memory now.
            if task.get_loop().is_closed():
                self._tasks.discard(task)
            elif task is not current:
                _cancel_on_its_loop(task)
                asked += 1
        return asked

    async def close(self, timeout: float = 2.0) -> None:
        """Cancel every task and wait up to ``timeout`` seconds for them to end.

        A task that ignores its cancellation is named in a warning and left behind:
        shutdown never hangs on it.
        """
        self.cancel_all()
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        waiting = {t for t in self._tasks if t is not current and t.get_loop() is loop}
        if not waiting:
            return
        _, stuck = await asyncio.wait(waiting, timeout=timeout)
        if stuck:
            logger.warning(
                "%d background task(s) did not stop within %.1f s of being cancelled: %s",
                len(stuck),
                timeout,
                ", ".join(sorted(t.get_name() for t in stuck)),
            )

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # also marks it retrieved: asyncio does not log it again
        if exc is not None:
            # The coroutine's arguments stay out of the message: they may be dictated text.
            logger.error(
                "background task %s failed: %s",
                task.get_name(),
                type(exc).__name__,
                exc_info=(type(exc), exc, exc.__traceback__),
            )


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop
        return None


def _cancel_on_its_loop(task: asyncio.Task[Any]) -> None:
    # Task.cancel is not thread-safe: from another thread (or loop), ask its loop to do it.
    loop = task.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task.cancel()
    elif not loop.is_closed():
        with contextlib.suppress(RuntimeError):  # it closed just now: the task is gone too
            loop.call_soon_threadsafe(task.cancel)


def _copy_outcome(task: asyncio.Task[Any], future: concurrent.futures.Future[Any]) -> None:
    if task.cancelled():
        future.cancel()
    if not future.set_running_or_notify_cancel():
        return
    exc = task.exception()
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(task.result())


_default: TaskRunner | None = None


def default_runner() -> TaskRunner:
    """The process's runner: the server's once it started, else one made on first use."""
    global _default
    if _default is None:
        _default = TaskRunner()
    return _default


def set_default_runner(runner: TaskRunner | None) -> None:
    """Make ``runner`` the process's runner (the server does, so shutdown reaches its tasks)."""
    global _default
    _default = runner
