"""Hands note entries to another live Butler server whose editor has the note open, so
that no server writes a file under an editor's unsaved buffer (docs/notes.md, "Two editors").

Each server owns ``<handoff>/<pid>-<random>/`` (``open.json``, ``inbox/``, ``answers/``),
alive while it holds ``<handoff>/<pid>-<random>.lock``. A sender drops an offer in the
holder's inbox; the holder claims it by renaming it, puts the entries into its editor's
buffer and answers in the sender's ``answers/``. A sender that gets no answer withdraws
the offer by renaming it too: exactly one rename wins, so an offer is never both written
by the holder and taken back unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterable
from pathlib import Path
from typing import Any

import attrs
import filelock

from butler_ls.plugin_api import replace_durably

from .journal import PendingEntry, unwritable_reason

logger = logging.getLogger(__name__)

OFFER_WAIT = 3.0
"""Seconds a sender waits for an answer before it withdraws its offer."""

CLAIMED_WAIT = 15.0
"""Seconds a sender waits more once the holder has claimed the offer."""

POLL = 0.2
"""Seconds between two looks at the inbox, while the client has a file open."""

ANSWER_POLL = 0.05
"""Seconds between two looks for the answer to an offer."""

LIVENESS_EVERY = 0.5
"""Seconds between two checks, while waiting, that the holder still runs."""

Receive = Callable[[list[PendingEntry], set[str]], Awaitable[str | None]]
"""Puts handed-in entries (and the ids of replayed ones) into the note; returns where
they went (``editor`` or ``disk``), or None when this server cannot take them."""

Spawn = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


@attrs.frozen
class Offered:
    """What became of an offer."""

    where: str | None
    """``editor`` or ``disk``: the holder put the entries there. None: write them yourself."""

    unheard: bool = False
    """A server listed the note as open in its editor but did not take the entries (it
    died, hung, or never answered): that editor may still hold an unsaved buffer."""


class Handoff:
    """This server's place in the shared handoff folder: sender and holder of offers."""

    def __init__(
        self,
        folder: Path,
        spawn: Spawn,
        receive: Receive,
        *,
        poll: float = POLL,
        offer_wait: float = OFFER_WAIT,
        claimed_wait: float = CLAIMED_WAIT,
    ) -> None:
        self.folder = folder
        self._spawn = spawn
        self._receive = receive
        self.poll = poll
        self.offer_wait = offer_wait
        self.claimed_wait = claimed_wait
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # The lock first, the folder after: a folder whose lock file is missing is debris.
        self._lock = filelock.FileLock(
            str(folder / f"{self.name}.lock"), thread_local=False, mode=0o600
        )
        self._lock.acquire(timeout=5)
        self.home = folder / self.name
        for sub in (self.home, self.home / "inbox", self.home / "answers"):
            sub.mkdir(mode=0o700)
        self._open: frozenset[str] = frozenset()
        self._dirty = False
        self._closing = False
        self._publisher: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None

    # -- holder: what our client has open, and the inbox -------------------------------

    def set_open(self, paths: Iterable[str]) -> None:
        """The files our client has open now; call on the server's loop after a change."""
        if self._closing:
            return
        self._open = frozenset(paths)
        self._dirty = True
        if self._publisher is None or self._publisher.done():
            self._publisher = self._spawn(self._publish(), "publish open notes")
        if self._open and (self._poller is None or self._poller.done()):
            self._poller = self._spawn(self._serve_inbox(), "note handoff inbox")

    async def _publish(self) -> None:
        # One writer at a time, always the newest set: a quick open-close ends closed.
        while self._dirty and not self._closing:
            self._dirty = False
            await asyncio.to_thread(self._write_open, self._open)

    def _write_open(self, paths: Collection[str]) -> None:
        listed = sorted({os.path.realpath(p) for p in paths})
        try:
            write_private(self.home / "open.json", {"open": listed})
        except OSError as exc:
            logger.warning("cannot publish the open notes in %s: %s", self.home, exc)

    async def _serve_inbox(self) -> None:
        # Polls only while the client has a file open: with none, no offer can be ours.
        while self._open and not self._closing:
            offers = await asyncio.to_thread(self._claim_offers)
            if offers:
                await asyncio.gather(*(self._serve(offer) for offer in offers))
            await asyncio.sleep(self.poll)

    def _claim_offers(self) -> list[dict[str, Any]]:
        inbox = self.home / "inbox"
        claimed = []
        for offer in sorted(inbox.glob("offer-*.json")):
            mine = offer.with_name("claimed-" + offer.name.removeprefix("offer-"))
            try:
                os.rename(offer, mine)  # the claim: fails if the sender withdrew first
            except FileNotFoundError:
                continue
            try:
                data = json.loads(mine.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                logger.warning("an unreadable note handoff offer was dropped: %s", exc)
                data = None
            mine.unlink(missing_ok=True)
            if isinstance(data, dict):
                claimed.append(data)
        return claimed

    async def _serve(self, offer: dict[str, Any]) -> None:
        where: str | None = None
        try:
            entries, replayed = parse_entries(offer.get("entries"))
            where = await self._receive(entries, replayed)
        except Exception as exc:
            # The sender then writes the entries to disk itself.
            logger.warning("a handed-in note entry could not be put in: %s", exc)
        await asyncio.to_thread(self._answer, offer, where)

    def _answer(self, offer: dict[str, Any], where: str | None) -> None:
        sender, offer_id = str(offer.get("from", "")), str(offer.get("id", ""))
        if not _is_name(sender) or not _is_name(offer_id):
            return
        answer = {"done": where is not None, "where": where}
        # An OSError means the sender is gone; its journal has the entries.
        with contextlib.suppress(OSError):
            write_private(self.folder / sender / "answers" / f"{offer_id}.json", answer)

    # -- sender ----------------------------------------------------------------------

    async def offer(
        self, path: Path, entries: list[PendingEntry], replayed: Collection[str] = ()
    ) -> Offered:
        """Hand ``entries`` to a live server whose editor has ``path`` open.

        ``where`` says where that server put them (``editor``, or ``disk`` if its user
        closed the note meanwhile); None when there is no holder or none took them.
        """
        if self._closing:
            return Offered(None)
        holders, unheard = await asyncio.to_thread(self.scan, path)
        payload = [
            {
                "id": e.id,
                "path": e.path,
                "section": e.section,
                "text": e.text,
                "replayed": e.id in replayed,
            }
            for e in entries
        ]
        for holder in holders:
            where, heard = await self._offer_to(holder, payload)
            if where is not None:
                return Offered(where)
            unheard = unheard or not heard
        return Offered(None, unheard)

    def scan(self, path: Path) -> tuple[list[str], bool]:
        """The live servers (other than this one) whose client has ``path`` open, and
        whether a dead one had it open; dead servers' folders are removed on the way."""
        target = os.path.realpath(path)
        found, dead_holder = [], False
        for lock in sorted(self.folder.glob("*.lock")):
            name = lock.name.removesuffix(".lock")
            if name == self.name:
                continue
            try:
                listed = json.loads((self.folder / name / "open.json").read_text("utf-8"))
            except (OSError, ValueError):
                listed = {}  # nothing open yet, or its folder is going away
            holds = isinstance(listed, dict) and target in listed.get("open", [])
            if not self._alive(name, clean=True):
                dead_holder = dead_holder or holds
            elif holds:
                found.append(name)
        for debris in self.folder.iterdir():
            if debris.is_dir() and not (self.folder / f"{debris.name}.lock").exists():
                shutil.rmtree(debris, ignore_errors=True)
        return found, dead_holder

    def _alive(self, name: str, *, clean: bool) -> bool:
        """Whether server ``name`` still holds its lock; a dead one's folder may go."""
        lock_path = self.folder / f"{name}.lock"
        lock = filelock.FileLock(str(lock_path), thread_local=False, mode=0o600)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            return True
        except OSError as exc:
            logger.debug("cannot tell whether Butler server %s runs: %s", name, exc)
            return False
        try:
            if clean:
                shutil.rmtree(self.folder / name, ignore_errors=True)
        finally:
            lock.release()
            if clean:
                lock_path.unlink(missing_ok=True)
        return False

    def _lists_not(self, holder: str, path: str) -> bool:
        """Whether ``holder``'s open.json says, readably, that its client has not ``path``."""
        try:
            listed = json.loads((self.folder / holder / "open.json").read_text("utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(listed, dict) and os.path.realpath(path) not in listed.get("open", [])

    async def _offer_to(
        self, holder: str, payload: list[dict[str, Any]]
    ) -> tuple[str | None, bool]:
        """Where ``holder`` put the entries (None: it did not), and whether it was heard
        from: it answered, or it let go of the note (so no buffer of its waits for them)."""
        offer_id = uuid.uuid4().hex
        offer = self.folder / holder / "inbox" / f"offer-{offer_id}.json"
        reply = self.home / "answers" / f"{offer_id}.json"
        message = {"from": self.name, "id": offer_id, "entries": payload}
        try:
            await asyncio.to_thread(write_private, offer, message)
        except OSError:
            return None, False  # the holder went away
        try:
            answer = await self._await_answer(reply, holder, self.offer_wait)
            if answer is None:
                if await asyncio.to_thread(_withdraw, offer):
                    logger.info("Butler server %s did not take a note entry in time", holder)
                    # A server that closed the note meanwhile stops reading its inbox.
                    let_go = await asyncio.to_thread(self._lists_not, holder, payload[0]["path"])
                    return None, let_go
                # Claimed: the holder is putting the entries in, give it longer.
                answer = await self._await_answer(reply, holder, self.claimed_wait)
            if answer is None:
                # In doubt: the entries may be in the holder's buffer, or nowhere. A
                # duplicate entry is better than a lost one, so the caller writes them.
                logger.warning(
                    "Butler server %s took a note entry but never said it was in; "
                    "writing it to the file as well, so it may appear twice",
                    holder,
                )
                return None, False
        finally:
            await asyncio.to_thread(reply.unlink, missing_ok=True)
        if answer.get("done") and answer.get("where") in ("editor", "disk"):
            return str(answer["where"]), True
        return None, True

    async def _await_answer(self, reply: Path, holder: str, seconds: float) -> dict | None:
        deadline = time.monotonic() + seconds
        next_check = time.monotonic() + LIVENESS_EVERY
        while True:
            answer = await asyncio.to_thread(_read_answer, reply)
            if answer is not None:
                return answer
            now = time.monotonic()
            if now >= deadline:
                return None
            if now >= next_check:
                next_check = now + LIVENESS_EVERY
                if not await asyncio.to_thread(self._alive, holder, clean=False):
                    return await asyncio.to_thread(_read_answer, reply)
            await asyncio.sleep(ANSWER_POLL)

    # -- lifetime ----------------------------------------------------------------------

    async def close(self) -> None:
        """Stop taking offers (those claimed are answered first) and leave the folder."""
        self._closing = True
        for task in (self._poller, self._publisher):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(self._leave)

    def _leave(self) -> None:
        # An editor may stop its server and keep the buffers (eglot-shutdown does). With
        # files still open the folder stays, its lock free: the next sender to a listed
        # note sees a gone server that had it open, warns, writes the file and removes
        # the folder. An offer in the inbox is withdrawn by its sender, who writes it.
        if not self._open:
            shutil.rmtree(self.home, ignore_errors=True)
        if self._lock.is_locked:
            self._lock.release()
        if not self._open:
            Path(self._lock.lock_file).unlink(missing_ok=True)


def parse_entries(raw: object) -> tuple[list[PendingEntry], set[str]]:
    """The entries of an offer and the ids of the replayed ones; ValueError if malformed."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("an offer without entries")
    entries, replayed = [], set()
    for item in raw:
        fields = ("id", "path", "section", "text")
        if not isinstance(item, dict) or not all(isinstance(item.get(f), str) for f in fields):
            raise ValueError("an offer's entry lacks its id, path, section or text")
        entry = PendingEntry(item["path"], item["section"], item["text"], id=item["id"])
        if (reason := unwritable_reason(entry)) is not None:
            raise ValueError(f"an offered entry can never be written: {reason}")
        entries.append(entry)
        if item.get("replayed") is True:
            replayed.add(entry.id)
    if len({e.path for e in entries}) != 1:
        raise ValueError("an offer's entries name more than one note")
    return entries, replayed


def write_private(path: Path, data: object) -> None:
    """Replace ``path`` by ``data`` as JSON, atomically, readable by this user only (0600)."""
    payload = json.dumps(data).encode("utf-8")
    # The temp file starts with a dot: the inbox's "offer-*" never matches it half-written.
    replace_durably(path, payload, prefix=f".{path.stem}.", suffix=".tmp", keep_mode=False)


def _withdraw(offer: Path) -> bool:
    """Take an offer back; False when the holder claimed it first."""
    withdrawn = offer.with_name("withdrawn-" + offer.name.removeprefix("offer-"))
    try:
        os.rename(offer, withdrawn)
    except FileNotFoundError:
        return False
    withdrawn.unlink(missing_ok=True)
    return True


def _read_answer(reply: Path) -> dict | None:
    try:
        data = json.loads(reply.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # not there yet (it appears whole, by rename)
    return data if isinstance(data, dict) else None


def _is_name(name: str) -> bool:
    # Names from an offer become paths: nothing that could leave the handoff folder.
    return bool(name) and all(c.isalnum() or c == "-" for c in name)
