"""The worker side of job_owner: the handler its manifest declares."""

import os

CALLS = 0


def shout(ctx, payload):
    global CALLS
    CALLS += 1
    ctx.partial({"heard": payload["text"]})
    return {"text": payload["text"].upper(), "pid": os.getpid()}


def worker_status():
    return {"jobOwnerCalls": CALLS}
