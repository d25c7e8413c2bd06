"""Test plugin: submits a job through the queue.jobs capability and reports what came back."""

import attrs

from butler_ls.plugin_api import Plugin
from butler_ls.util.errors import ButlerError


@attrs.frozen
class JobArguments:
    kind: str
    payload: dict = attrs.field(factory=dict)
    priority: str = "batch"


class JobProbe(Plugin):
    def activate(self, ctx):
        self.ctx = ctx
        ctx.command("test.job", self.job, arguments=JobArguments)
        ctx.command("test.recovered", self.recovered_results)
        self.recovered = []
        ctx.require("queue.jobs").on_recovered("sleep", self.on_recovered)

    def on_recovered(self, envelope, message):
        self.recovered.append(
            {
                "job": envelope.job_id,
                "kind": message.kind,
                "index": message.index,
                "data": message.data,
            }
        )

    def recovered_results(self, _):
        return {"messages": self.recovered}

    async def job(self, args):
        jobs = self.ctx.require("queue.jobs")
        events = []

        def on_event(message):
            events.append({"kind": message.kind, "index": message.index, "data": message.data})

        try:
            result = await jobs.submit(
                args.kind, args.payload, priority=args.priority, on_event=on_event
            )
        except jobs.Error as exc:
            raise ButlerError(f"job failed: {exc}") from None
        return {"result": result, "events": events}
