"""Breaks on import, in the worker only: the other plugins' jobs must still run."""

raise RuntimeError("job module exploded on purpose")


def run(ctx, payload):
    return {}
