"""The command line: options editors pass."""

from __future__ import annotations

from butler_ls.cli import build_parser


def test_stdio_is_accepted_and_is_the_default():
    # vscode-languageclient and others pass --stdio; it means what Butler does anyway.
    args = build_parser().parse_args(["--stdio"])
    assert args.stdio and not args.tcp
    assert not build_parser().parse_args([]).tcp
