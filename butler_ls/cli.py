"""Command line of ``butler-ls``: the language server (stdio or TCP) and its tools.

Arguments are checked before anything heavy is imported, so mistakes answer fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from butler_ls import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (separate so docs and tests can inspect it)."""
    parser = argparse.ArgumentParser(
        prog="butler-ls",
        description="Butler, the voice-and-notes assistant for your editor: a language server.",
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
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    worker = commands.add_parser(
        "worker", help="run the transcription worker (the server starts one itself)"
    )
    from butler_ls.queue.worker import add_arguments

    add_arguments(worker)
    transcribe = commands.add_parser(
        "transcribe", help="print the transcript of an audio file (same engine as the server)"
    )
    from butler_ls.transcribe_cli import add_arguments as transcribe_arguments

    transcribe_arguments(transcribe)
    doctor = commands.add_parser(
        "doctor", help="check microphone, model, queue, worker and folders, and say what to fix"
    )
    from butler_ls.doctor.main import add_arguments as doctor_arguments

    doctor_arguments(doctor)
    return parser


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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "worker":
        from butler_ls.queue.worker import main as worker_main
        from butler_ls.util.paths import keep_private

        keep_private()  # the queue, its key and the worker's logs are the user's alone
        return worker_main(args)
    if args.command == "transcribe":
        from butler_ls.transcribe_cli import main as transcribe_main

        return transcribe_main(args)
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
