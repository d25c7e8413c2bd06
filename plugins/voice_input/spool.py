"""Durable, private storage of dictated utterances until their text is in the document.

A crash or kill -9 never loses a stored utterance and never leaves a half-written one to read.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from butler_ls.plugin_api import ButlerError, fsync_folder, pid_alive, replace_durably

if TYPE_CHECKING:  # the voice detector loads when dictation starts, not with the spool
    from .segmenter import Utterance

__all__ = ["SESSION_FILE", "Spool", "SpoolError", "SpooledUtterance", "pid_alive"]

SESSION_FILE = "session.json"
"""Per-session metadata: the owner's pid, when it began, and what the caller passed."""

_RATE = 16000
_WAV_HEADER = 44  # what the wave module writes for plain PCM: RIFF, fmt and data headers
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_ITEM = re.compile(r"(\d{6,})\.json")
# Scratch names carry their writer's pid, so a sweeper can tell a dead writer's leftovers
# from a live writer's work in progress: ".tmp.<pid>.*" files, ".open./.closed.<pid>.*" folders.
_SCRATCH = re.compile(r"\.(?:tmp|open|closed)\.(\d+)\..*")


class SpoolError(ButlerError):
    """The spool cannot do what was asked; the message names the session or file and the fix."""


@attrs.frozen
class SpooledUtterance:
    """An utterance on disk, waiting for its text to be applied."""

    session_id: str
    """The dictation session it belongs to."""

    index: int
    """Its position in the session (the segmenter's ``Utterance.index``)."""

    path: Path
    """The WAV file: 16 kHz, mono, 16-bit; ``Spool.read_pcm`` returns its samples."""

    created: float
    """When it was stored, in seconds since the epoch."""

    context: dict[str, Any]
    """What the caller stored with it (target document, text so far...); JSON values only."""

    start: float = 0.0
    """Seconds from the start of the session's audio stream to the utterance's first sample."""

    end: float = 0.0
    """Seconds from the start of the stream to just after its last sample."""

    forced: bool = False
    """Cut for being too long rather than at a pause."""


class Spool:
    """A private folder of sessions, each a folder of ``<index>.wav`` + ``<index>.json`` pairs."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        with _as_spool_error(self.folder):
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkdir's mode is filtered by the umask and ignored for an existing folder.
            os.chmod(self.folder, 0o700)

    def open_session(self, session_id: str, metadata: dict[str, Any]) -> None:
        """Start a session owned by this process; an existing one is taken over, items kept."""
        record = _json_bytes(
            {
                "sessionId": session_id,
                "pid": os.getpid(),
                "created": time.time(),
                "metadata": metadata,
            },
            "metadata",
        )
        folder = self._session_folder(session_id)
        with _as_spool_error(folder):
            if folder.is_dir():
                owner = (self.session_info(session_id) or {}).get("pid")
                if isinstance(owner, int) and owner != os.getpid() and pid_alive(owner):
                    raise SpoolError(
                        f"dictation session {session_id!r} belongs to the running process "
                        f"{owner}; choose another session id"
                    )
                _sweep(folder, pid_alive)
                _write_durably(folder / SESSION_FILE, record)
                return
            # Built aside and renamed into place, so no session is ever seen without its owner.
            scratch = Path(tempfile.mkdtemp(prefix=f".open.{os.getpid()}.", dir=self.folder))
            try:
                _write_durably(scratch / SESSION_FILE, record)
                os.rename(scratch, folder)
            except BaseException:
                shutil.rmtree(scratch, ignore_errors=True)
                raise
            fsync_folder(self.folder)

    def put(
        self, session_id: str, utterance: Utterance, context: dict[str, Any]
    ) -> SpooledUtterance:
        """Store an utterance and its context; returns once both are safely on disk."""
        folder = self._open_folder(session_id)
        if utterance.index < 0:
            raise SpoolError(f"utterance index {utterance.index} is negative; indices start at 0")
        created = time.time()
        samples = len(utterance.pcm) // 2
        record = _json_bytes(
            {
                "sessionId": session_id,
                "index": utterance.index,
                "created": created,
                "start": utterance.start,
                "end": utterance.end,
                "spokenEnd": utterance.spoken_end,
                "forced": utterance.forced,
                "samples": samples,
                "context": context,
            },
            "context",
        )
        wav_path = folder / f"{utterance.index:06d}.wav"
        with _as_spool_error(wav_path):
            # The WAV first: a .json on disk vouches that its WAV is complete. A stored
            # index put again loses its old .json first, so the old one cannot vouch instead.
            wav_path.with_suffix(".json").unlink(missing_ok=True)
            _write_durably(wav_path, _wav_bytes(utterance.pcm[: 2 * samples]))
            _write_durably(wav_path.with_suffix(".json"), record)
        return SpooledUtterance(
            session_id=session_id,
            index=utterance.index,
            path=wav_path,
            created=created,
            context=json.loads(record)["context"],
            start=utterance.start,
            end=utterance.end,
            forced=utterance.forced,
        )

    def done(self, session_id: str, index: int) -> None:
        """The utterance's text is applied: delete its files, for good."""
        folder = self._session_folder(session_id)
        json_path = folder / f"{index:06d}.json"
        with _as_spool_error(json_path):
            # The .json first: a lone .wav is never pending, so a crash in between is harmless.
            json_path.unlink(missing_ok=True)
            json_path.with_suffix(".wav").unlink(missing_ok=True)
            # Durable, or a crash could bring the utterance back and insert its text twice.
            fsync_folder(folder)

    def close_session(self, session_id: str, *, discard: bool = False) -> None:
        """Remove a finished session; refuses while utterances wait, unless ``discard``."""
        folder = self._session_folder(session_id)
        if not folder.is_dir():
            return
        left = self.pending(session_id)
        if left and not discard:
            raise SpoolError(
                f"dictation session {session_id!r} still holds {len(left)} utterance(s); "
                "apply them first, or close with discard=True to drop them"
            )
        with _as_spool_error(folder):
            # One rename ends the session, so a crash while deleting cannot revive any of it.
            grave = self.folder / f".closed.{os.getpid()}.{os.urandom(4).hex()}"
            os.rename(folder, grave)
            fsync_folder(self.folder)
            shutil.rmtree(grave, ignore_errors=True)

    def pending(self, session_id: str) -> list[SpooledUtterance]:
        """The session's complete, stored utterances, in index order."""
        folder = self._session_folder(session_id)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SpoolError(f"cannot read the spool folder {folder}: {exc.strerror}") from exc
        found = []
        for name in names:
            match = _ITEM.fullmatch(name)
            if match:
                item = _load_item(session_id, folder / name)
                if item is not None and item.index == int(match.group(1)):
                    found.append(item)
        return sorted(found, key=lambda item: item.index)

    def session_info(self, session_id: str) -> dict[str, Any] | None:
        """The session's ``session.json`` (sessionId, pid, created, metadata), or None."""
        try:
            info = json.loads((self._session_folder(session_id) / SESSION_FILE).read_bytes())
        except (OSError, ValueError):
            return None
        return info if isinstance(info, dict) else None

    def orphaned_sessions(self, alive: Callable[[int], bool] = pid_alive) -> list[str]:
        """Sessions whose owner is gone and that still hold utterances; sorted by name.

        Leftovers of dead writers are swept on the way, and dead sessions with nothing
        left to transcribe are removed.
        """
        _sweep(self.folder, alive)
        orphans = []
        for entry in sorted(os.scandir(self.folder), key=lambda entry: entry.name):
            if not entry.is_dir() or not _SESSION_ID.fullmatch(entry.name):
                continue
            info = self.session_info(entry.name)
            pid = info.get("pid") if info else None
            if isinstance(pid, int) and alive(pid):
                continue
            _sweep(Path(entry.path), alive)
            if self.pending(entry.name):
                orphans.append(entry.name)
            else:
                with suppress(SpoolError):
                    self.close_session(entry.name, discard=True)
        return orphans

    def read_pcm(self, item: SpooledUtterance) -> bytes:
        """The utterance's samples: int16 little-endian, mono, 16 kHz."""
        with _as_spool_error(item.path):
            try:
                with wave.open(str(item.path), "rb") as wav:
                    if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (
                        _RATE,
                        1,
                        2,
                    ):
                        raise SpoolError(f"{item.path} is not 16 kHz mono 16-bit audio")
                    return wav.readframes(wav.getnframes())
            except (wave.Error, EOFError) as exc:
                raise SpoolError(f"{item.path} is damaged ({exc}); drop it with done()") from exc

    def _session_folder(self, session_id: str) -> Path:
        if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
            raise SpoolError(
                f"session id {session_id!r} is not usable as a folder name; "
                "use letters, digits, '.', '_' or '-' (at most 128, not starting with '.')"
            )
        return self.folder / session_id

    def _open_folder(self, session_id: str) -> Path:
        folder = self._session_folder(session_id)
        if not (folder / SESSION_FILE).is_file():
            raise SpoolError(f"dictation session {session_id!r} is not open; open_session() first")
        return folder


def _load_item(session_id: str, json_path: Path) -> SpooledUtterance | None:
    """The item whose record is ``json_path``, or None unless both files are whole."""
    try:
        record = json.loads(json_path.read_bytes())
        wav_path = json_path.with_suffix(".wav")
        size = wav_path.stat().st_size
        item = SpooledUtterance(
            session_id=session_id,
            index=int(record["index"]),
            path=wav_path,
            created=float(record["created"]),
            context=dict(record["context"]),
            start=float(record["start"]),
            end=float(record["end"]),
            forced=bool(record["forced"]),
        )
        whole = size == _WAV_HEADER + 2 * int(record["samples"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return item if whole else None


def _sweep(folder: Path, alive: Callable[[int], bool]) -> None:
    """Remove the scratch files and folders in ``folder`` whose writer has died."""
    with suppress(FileNotFoundError), os.scandir(folder) as entries:
        for entry in entries:
            match = _SCRATCH.fullmatch(entry.name)
            if match is None or alive(int(match.group(1))):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with suppress(OSError):
                    os.unlink(entry.path)


def _write_durably(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600); the pid in the temp name lets a sweep
    tell a dead writer's leftovers from a live one's."""
    replace_durably(
        path, data, prefix=f".tmp.{os.getpid()}.", suffix=f".{path.name}", keep_mode=False
    )


def _wav_bytes(pcm: bytes) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(_RATE)
        wav.writeframes(pcm)
    return buffer.getvalue()


def _json_bytes(value: dict[str, Any], field: str) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise SpoolError(f"'{field}' must hold JSON values only (text, numbers...): {exc}") from exc


@contextmanager
def _as_spool_error(path: Path) -> Iterator[None]:
    """Turn an OSError into a SpoolError that names the file and what to check."""
    try:
        yield
    except OSError as exc:
        raise SpoolError(
            f"cannot use the dictation spool at {path}: {exc.strerror or exc}; "
            "check that the folder is yours, writable and not full"
        ) from exc
