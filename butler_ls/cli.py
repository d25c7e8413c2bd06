"""Command line of ``butler-ls``: the language server (stdio or TCP) and its tools.

Arguments are checked before anything heavy is imported, so mistakes answer fast. Tools
such as ``transcribe`` come from plugins (their manifest's ``cli:`` key), loaded by the host.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from butler_ls import __version__

CORE_COMMANDS = ("worker", "doctor")


def build_parser(commands: bool = True) -> argparse.ArgumentParser:
    """The argument parser (separate so docs and tests can inspect it); without
    ``commands``, the server's options only (no tool is imported to build it)."""
    parser = argparse.ArgumentParser(
        prog="butler-ls",
        description="Butler, the voice-and-notes assistant for your editor: a language server.",
        add_help=commands,  # --help shows the tools: it takes the full parser
    )
    parser.add_argument("--version", action="version", version=f"butler-ls {__version__}")
    parser.add_argument(
        "--tcp",
        action="store_true",
        help="listen on TCP instead of stdio (for debugging; off by default)",
    )
    parser.add_argument(
        "--stdio",
        action="store_true",
        help="talk LSP on stdin/stdout (the default; accepted because many clients pass it)",
    )
    parser.add_argument("--host", help="TCP host with --tcp (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=_port, help="TCP port with --tcp (default: 2087)")
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="level of the log file in the data folder (default: INFO)",
    )
    if not commands:
        parser.set_defaults(command=None)
        return parser
    tools = parser.add_subparsers(dest="command", metavar="COMMAND")
    worker = tools.add_parser(
        "worker", help="run the transcription worker (the server starts one itself)"
    )
    from butler_ls.queue.worker import add_arguments

    add_arguments(worker)
    doctor = tools.add_parser(
        "doctor", help="check microphone, model, queue, worker and folders, and say what to fix"
    )
    from butler_ls.doctor.main import add_arguments as doctor_arguments

    doctor_arguments(doctor)
    for name, (help_text, setup, run) in plugin_tools().items():
        tool = tools.add_parser(name, help=help_text)
        setup(tool)
        tool.set_defaults(run_tool=run)
    return parser


Tool = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def plugin_tools() -> dict[str, Tool]:
    """``butler-ls`` sub-commands that plugins declare, from the plugins the settings file allows.

    A tool whose plugin cannot load still appears: running it says why, naming the plugin.
    """
    from butler_ls.host.loader import describe, import_from_plugin, plan_plugins
    from butler_ls.util.config import load_settings_file, parse_settings
    from butler_ls.util.paths import Paths

    paths = Paths.default()
    settings, _ = parse_settings(load_settings_file(paths.config_file)[0])
    # Quiet: the server and the doctor report broken plugins; a tool should not, every run.
    plugins = settings.plugins
    plan = plan_plugins(paths.user_plugins_dir, plugins.paths, plugins.disabled, quiet=True)
    tools: dict[str, Tool] = {}
    for found in plan.order:
        manifest = found.manifest
        for target in manifest.cli if manifest else ():
            if target.name in CORE_COMMANDS or target.name in tools:
                continue  # the core's own commands, and the first plugin's tool, win
            try:
                run = import_from_plugin(
                    manifest, target.module, target.function, found.module_name, "cli"
                )
                module = import_from_plugin(manifest, target.module, None, found.module_name, "cli")
            except Exception as exc:
                why = describe(exc, "importing its code")
                tools[target.name] = _unavailable(f"plugin {found.id} cannot run it: {why}")
                continue
            add_arguments = getattr(module, "add_arguments", _any_arguments)
            first_line = (getattr(run, "__doc__", None) or "").strip().split("\n")[0]
            help_text = first_line[:1].lower() + first_line[1:].rstrip(".")
            tools[target.name] = (help_text, add_arguments, run)
    for found, why in plan.excluded.values():
        for target in found.manifest.cli if found.manifest else ():
            if target.name not in CORE_COMMANDS:
                tools.setdefault(
                    target.name, _unavailable(f"plugin {found.id} is not loaded: {why}")
                )
    return tools


_NOT_LOADED = "(not available: run it to see why)"


def _unavailable(reason: str) -> Tool:
    def run(args: argparse.Namespace) -> int:
        print(f"butler-ls {args.command}: {reason}", file=sys.stderr)
        return 1

    return (_NOT_LOADED, _any_arguments, run)


def _any_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65535, got {port}")
    return port


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``butler-ls`` executable."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # The server (no COMMAND) starts without building the tools' parsers: those import
    # the worker, the doctor and every plugin's command-line code.
    parser = build_parser(commands=False)
    args, rest = parser.parse_known_args(argv)
    if rest or "-h" in argv or "--help" in argv:
        parser = build_parser()
        args = parser.parse_args(argv)
    if args.command == "worker":
        from butler_ls.queue.worker import main as worker_main
        from butler_ls.util.paths import keep_private

        keep_private()  # the queue, its key and the worker's logs are the user's alone
        return worker_main(args)
    run_tool: Any = getattr(args, "run_tool", None)
    if run_tool is not None:
        return int(run_tool(args) or 0)
    if args.command == "doctor":
        from butler_ls.doctor.main import main as doctor_main

        return doctor_main(args)
    if not args.tcp and (args.host is not None or args.port is not None):
        parser.error("--host and --port only apply with --tcp")
    args.host = args.host or "127.0.0.1"
    args.port = args.port or 2087
    return serve(args)


def serve(args: argparse.Namespace) -> int:
    """Run the language server until the client says exit."""
    from butler_ls.util.startup import pause_collection

    pause_collection()  # until the initialize answer: see util/startup.py
    from butler_ls.lsp.server import create_server
    from butler_ls.util.log import setup_logging
    from butler_ls.util.paths import Paths, keep_private

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # inherited by the worker it starts
    keep_private()  # everything in the data folder 0600/0700; notes follow the user's umask
    paths = Paths.default()
    paths.ensure()
    log_file = setup_logging(paths.log_dir, args.log_level)
    logger = logging.getLogger("butler_ls")
    logger.info("butler-ls %s starting; log file %s", __version__, log_file)
    server = create_server(paths)
    if args.tcp:
        server.start_tcp(args.host, args.port)
    else:
        server.start_io()
    return 0


if __name__ == "__main__":
    sys.exit(main())
