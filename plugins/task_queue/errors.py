"""How ``task_queue`` words a queue failure for the user: by its real cause, never with a
Redis password or the job data a failed pipeline quotes."""

from __future__ import annotations

from butler_ls.plugin_api import ButlerError, redact_url


def describe_queue_error(exc: BaseException, url: str | None) -> str:
    """A user's view of a queue failure, by its real cause (the URL without its password)."""
    where = redact_url(url) if url else "the queue"
    name = type(exc).__name__
    kinds = {cls.__name__ for cls in type(exc).__mro__}
    # A pipeline's error quotes its commands, which may hold job data: keep Redis' reason.
    text = str(exc).split(" of pipeline caused error: ", 1)[-1]
    if isinstance(exc, ButlerError):
        return str(exc)
    if name == "KeyProblem":
        return f"the queue key: {text}"
    if "ResponseError" in kinds:
        # Redis answered, and said no: it is reachable, the request was refused.
        if "OOM" in text or "maxmemory" in text:
            fix = "free memory in Redis or raise its maxmemory (or lower transcriber.maxFileMb)"
        elif "NOAUTH" in text or "WRONGPASS" in text or "NOPERM" in text:
            fix = "put the right user and password in queue.url"
        elif "READONLY" in text or "ReadOnlyError" in kinds:
            fix = "point queue.url at the primary, not a read-only replica"
        else:
            fix = "see redis-server's log for its limits"
        return f"Redis at {where} refused the request ({name}: {text}); {fix}"
    if "AuthenticationError" in kinds:
        return f"Redis at {where} refused the password ({text}); fix it in queue.url"
    if "ConnectionError" in kinds or "TimeoutError" in kinds:
        if "connecting to" in text or "Connection refused" in text or "Name or service" in text:
            return f"cannot reach Redis at {where} ({text}); start redis-server or fix queue.url"
        if "TimeoutError" in kinds:
            return (
                f"Redis at {where} did not answer in time ({text}); it may be overloaded "
                f"or stopped: check redis-server there"
            )
        # Connected, then lost: Redis closed the connection mid-request (a request over
        # one of its limits, a restart).
        return (
            f"lost the connection to Redis at {where} during a request ({name}: {text}); "
            f"if redis-server is running, its log says why it closed the connection"
        )
    return f"{where}: {name}: {text}"
