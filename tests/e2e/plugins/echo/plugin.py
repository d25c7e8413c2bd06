"""Test plugin: a command with typed arguments and a command that raises."""

import attrs

from butler_ls.plugin_api import Plugin


@attrs.frozen
class EchoArguments:
    text: str
    times: int = 1
    upper: bool = False


class EchoPlugin(Plugin):
    def activate(self, ctx):
        ctx.command("test.echo", self.echo, arguments=EchoArguments)
        ctx.command("test.explode", self.explode)

    def echo(self, args):
        text = args.text.upper() if args.upper else args.text
        return {"text": " ".join([text] * args.times)}

    def explode(self, args):
        return 1 / 0
