"""The command line: options editors pass."""

from __future__ import annotations

from butler_ls.cli import build_parser


def test_stdio_is_accepted_and_is_the_default():
    # vscode-languageclient and others pass --stdio; it means what Butler does anyway.
    args = build_parser().parse_args(["--stdio"])
    assert args.stdio and not args.tcp
    assert not build_parser().parse_args([]).tcp


def use_config(monkeypatch, tmp_path, text: str) -> None:
    for name, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    config = tmp_path / ".config" / "butler" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(text)


def test_transcribe_is_the_transcriber_plugins_tool(monkeypatch, tmp_path):
    use_config(monkeypatch, tmp_path, "{}\n")
    args = build_parser().parse_args(["transcribe", "a.wav", "--format", "srt"])
    assert args.file == "a.wav" and args.format == "srt"
    assert args.run_tool.__module__ == "butler_plugins.transcriber.cli"


def test_a_tool_whose_plugin_is_disabled_says_so(monkeypatch, tmp_path, capsys):
    from butler_ls.cli import main

    use_config(monkeypatch, tmp_path, "plugins:\n  disabled: [transcriber]\n")
    assert main(["transcribe", "a.wav"]) == 1
    error = capsys.readouterr().err
    assert "butler-ls transcribe: plugin transcriber is not loaded: disabled" in error
