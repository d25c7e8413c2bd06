"""The signed format of everything Butler keeps in a shared queue store (Redis or SQLite).

JSON with tagged bytes, tuples and datetimes, authenticated with HMAC-SHA256 under a key
only Butler's machines share; nothing is parsed before its signature checks, nothing unpickled.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

logger = logging.getLogger(__name__)

MAGIC = b"butler1"
KEY_FILE = "queue.key"
KEY_ENV = "BUTLER_QUEUE_KEY"
"""The key itself (its 64 hex digits): how a worker on another machine gets it."""
KEY_FILE_ENV = "BUTLER_QUEUE_KEY_FILE"
"""A file holding the key, as ``butler-ls worker --key-file`` takes it."""
KEY_BYTES = 32


class Rejected(ValueError):
    """Data that is not a valid signed envelope; its message never quotes the data."""


class KeyProblem(ValueError):
    """The queue key given by the user cannot be used; the message says how to fix it."""


@attrs.frozen
class Codec:
    """Turns Python values into JSON and back; ``records`` are the named tuples it may carry."""

    records: Mapping[str, type] = attrs.field(factory=dict)
    """Named tuples by a stable name (Huey's ``Message``), rebuilt on the way back."""

    def encode(self, value: Any) -> bytes:
        """JSON bytes of ``value``; TypeError for what JSON cannot hold unambiguously."""
        return json.dumps(self._tag(value), separators=(",", ":"), allow_nan=False).encode()

    def decode(self, body: bytes) -> Any:
        """The value of ``encode``'s bytes; Rejected if they are malformed."""
        try:
            return json.loads(body, object_hook=self._untag)
        except (ValueError, TypeError, KeyError) as exc:
            raise Rejected(f"malformed body ({type(exc).__name__})") from None

    def _tag(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
        if isinstance(value, dict):
            items = []
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"dictionary keys must be strings, not {type(key).__name__}")
                items.append((key, self._tag(item)))
            if len(items) == 1 and items[0][0].startswith("$"):
                # A lone "$" key would read as a tag: carried as pairs, which never do.
                return {"$dict": [list(pair) for pair in items]}
            return dict(items)
        if isinstance(value, list):
            return [self._tag(item) for item in value]
        if isinstance(value, tuple):
            if hasattr(value, "_fields"):
                for name, cls in self.records.items():
                    if type(value) is cls:
                        fields = {f: self._tag(getattr(value, f)) for f in value._fields}
                        return {"$record": [name, fields]}
                raise TypeError(f"{type(value).__name__} is not a known record")
            return {"$tuple": [self._tag(item) for item in value]}
        if isinstance(value, datetime.datetime):
            return {"$datetime": value.isoformat()}
        if isinstance(value, datetime.timedelta):
            return {"$timedelta": value.total_seconds()}
        raise TypeError(f"{type(value).__name__} cannot travel through the queue")

    def _untag(self, obj: dict[str, Any]) -> Any:
        if len(obj) != 1:
            return obj
        ((tag, value),) = obj.items()
        if not tag.startswith("$"):
            return obj
        if tag == "$bytes":
            return base64.b64decode(value, validate=True)
        if tag == "$dict":
            return {str(key): item for key, item in value}
        if tag == "$tuple":
            return tuple(value)
        if tag == "$datetime":
            return datetime.datetime.fromisoformat(value)
        if tag == "$timedelta":
            return datetime.timedelta(seconds=float(value))
        if tag == "$record":
            name, fields = value
            cls = self.records[name]
            return cls(**{f: fields[f] for f in cls._fields if f in fields})
        raise ValueError("unknown tag")


PLAIN = Codec()


@attrs.frozen
class QueueKey:
    """The shared secret that signs and checks every job, message and result."""

    secret: bytes = attrs.field(repr=False)
    source: str = "memory"
    """Where it came from (a file, the environment), for logs."""

    @property
    def key_id(self) -> str:
        """A short public name of the key, to tell two keys apart in logs."""
        return hashlib.sha256(b"butler-queue-key-id:" + self.secret).hexdigest()[:12]

    def sign(self, purpose: str, value: Any, codec: Codec = PLAIN) -> bytes:
        """``value`` as signed bytes, valid only for ``purpose`` ("job", "task", "result")."""
        body = codec.encode(value)
        mac = self._mac(purpose, body)
        return b":".join((MAGIC, self.key_id.encode(), mac.encode(), body))

    def open(self, purpose: str, blob: bytes | str | None, codec: Codec = PLAIN) -> Any:
        """The value ``sign`` wrapped; Rejected unless this key signed it for ``purpose``."""
        if isinstance(blob, str):
            blob = blob.encode()
        if not isinstance(blob, bytes | bytearray) or not blob:
            raise Rejected("empty or not bytes")
        blob = bytes(blob)
        if not blob.startswith(MAGIC + b":"):
            if blob[:1] == b"\x80":
                raise Rejected("a pickle (an older Butler's format, or forged); never unpickled")
            raise Rejected("not signed (no Butler envelope)")
        parts = blob.split(b":", 3)
        if len(parts) != 4:
            raise Rejected("truncated envelope")
        _, key_id, mac, body = parts
        if not hmac.compare_digest(mac, self._mac(purpose, body).encode()):
            if key_id.decode(errors="replace") != self.key_id:
                raise Rejected(
                    f"signed with another key (key id {key_id.decode(errors='replace')[:12]!r}, "
                    f"this machine's is {self.key_id!r}); give every machine the same "
                    f"{KEY_FILE} (see docs/distributed.md)"
                )
            raise Rejected("bad signature (forged or altered)")
        return codec.decode(body)

    def _mac(self, purpose: str, body: bytes) -> str:
        return hmac.new(self.secret, purpose.encode() + b"\n" + body, hashlib.sha256).hexdigest()


def parse_key(text: str, source: str) -> QueueKey:
    """A key from its hex text (the content of ``queue.key``)."""
    try:
        secret = binascii.unhexlify(text.strip())
    except (binascii.Error, ValueError):
        raise KeyProblem(
            f"{source}: not a queue key (expected the {2 * KEY_BYTES} hex digits of "
            f"{KEY_FILE}); copy the file from the editor's machine"
        ) from None
    if len(secret) < 16:
        raise KeyProblem(f"{source}: the key is too short ({len(secret)} bytes, at least 16)")
    return QueueKey(secret, source)


def load_key(directory: Path, *, key_file: Path | None = None) -> QueueKey:
    """The queue key: ``BUTLER_QUEUE_KEY``, else a key file (``key_file`` or
    ``BUTLER_QUEUE_KEY_FILE``), else ``queue.key`` in ``directory``, made on first use."""
    text = os.environ.get(KEY_ENV, "").strip()
    if text:
        return parse_key(text, KEY_ENV)
    named = key_file or (Path(os.environ[KEY_FILE_ENV]) if os.environ.get(KEY_FILE_ENV) else None)
    if named is not None:
        named = named.expanduser()
        try:
            return parse_key(named.read_text(), str(named))
        except OSError as exc:
            raise KeyProblem(f"cannot read the queue key file {named}: {exc.strerror}") from None
    return _key_in(directory)


def _key_in(directory: Path) -> QueueKey:
    path = directory / KEY_FILE
    try:
        return _read_private(path)
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Written aside, then linked into place: of two processes starting at once, one
    # key wins and both read it; nobody ever reads a half-written file.
    temporary = directory / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_hex(KEY_BYTES) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
            logger.info("made a new queue key in %s", path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_private(path)


def _read_private(path: Path) -> QueueKey:
    if path.stat().st_mode & 0o077:
        # Anyone who reads the key can sign jobs: only its owner may.
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)
            logger.warning("%s was readable by others; made it private (0600)", path)
    return parse_key(path.read_text(), str(path))


class RejectionLog:
    """Says once, at WARNING, that a record was refused (never its content), and counts."""

    def __init__(self) -> None:
        self.count = 0
        self._told: set[str] = set()

    def refused(self, what: str, where: str, reason: str) -> bool:
        """Log ``what`` at ``where`` refused for ``reason``; False if it was told already."""
        if where in self._told:
            return False
        if len(self._told) > 10_000:
            self._told.clear()
        self._told.add(where)
        self.count += 1
        logger.warning("refused %s (%s): %s", what, where, reason)
        return True
