"""Background work: a Huey task queue whose consumer process the server supervises.

``app`` builds the Huey app (SQLite with wake-ups, or Redis), ``wake`` is the local
wake-up channel, ``jobs`` the durable job records and result inboxes, ``envelope`` what
travels in them, ``wire`` the signed JSON they are stored as (never pickles),
``throttle`` the resource policies, ``supervisor`` the server side that owns the worker.
"""
