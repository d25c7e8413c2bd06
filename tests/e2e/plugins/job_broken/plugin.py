"""Test plugin: loads fine in the server; only its job module (jobs.py) is broken."""

from butler_ls.plugin_api import ButlerError, Plugin


class JobBroken(Plugin):
    def activate(self, ctx):
        self.ctx = ctx
        ctx.command("test.broken.run", self.run)

    async def run(self, args):
        jobs = self.ctx.require("queue.jobs")
        try:
            return await jobs.submit("test.broken", {})
        except jobs.Error as exc:
            raise ButlerError(f"job failed: {exc}") from None
