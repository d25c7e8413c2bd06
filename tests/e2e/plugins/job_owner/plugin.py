"""Test plugin: submits its own job kind through queue.jobs; jobs.py runs it in the worker."""

import attrs

from butler_ls.plugin_api import ButlerError, Plugin


@attrs.frozen
class ShoutArguments:
    text: str


class JobOwner(Plugin):
    def activate(self, ctx):
        self.ctx = ctx
        ctx.command("test.owner.shout", self.shout, arguments=ShoutArguments)

    async def shout(self, args):
        jobs = self.ctx.require("queue.jobs")
        try:
            return await jobs.submit("test.shout", {"text": args.text})
        except jobs.Error as exc:
            raise ButlerError(f"job failed: {exc}") from None
