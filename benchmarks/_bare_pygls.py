"""The baseline of benchmarks/startup.py: a bare pygls 2 server with one command.

What any Python language server costs to start; Butler's start-up is measured against it.
"""

from __future__ import annotations

from pygls.lsp.server import LanguageServer

server = LanguageServer("bare", "1.0")


@server.command("bare.hello")
def hello(ls: LanguageServer, *args: object) -> dict[str, str]:
    return {"hello": "world"}


if __name__ == "__main__":
    server.start_io()
