"""Spoken languages with the multilingual base model: language detection per utterance (and
what it costs), word error rate per language in live dictation, and dictation latency of
base against tiny.en.

Prints JSON. Detection runs Butler's engine in this process on each recording as one
utterance (French and Spanish from tests/data/speech/non_english, English from
tests/data/speech) and on short synthetic command phrases; dictation plays the recordings of
each language through a real butler-ls (``audioFile``, real time, ``model.language: auto``).
Usage: python benchmarks/languages.py [--runs 1] [--skip-dictation]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dictation import percentile, run_once
from wer import model_folder

from butler_ls.job_api import decode_all
from butler_ls.util.word_errors import word_errors
from tests.helpers import load_plugin_module

engine = load_plugin_module("transcriber", "engine")
models = load_plugin_module("transcriber", "models")
join_recordings = load_plugin_module("voice_input", "recordings").join_recordings

REPO = Path(__file__).resolve().parent.parent
SPEECH = REPO / "tests" / "data" / "speech"
NON_ENGLISH = SPEECH / "non_english"
TARGETS = {"p50_s": 1.3, "p95_s": 2.0}
# Short phrases in synthetic speech, as voice commands come: (language, voice, text).
COMMANDS = [
    ("fr", "fr+f3", "nouvelle ligne"),
    ("fr", "fr+f3", "point"),
    ("es", "es", "nueva línea"),
    ("it", "it", "nuova riga"),
    ("de", "de", "neue Zeile"),
    ("en", "en-us", "new line"),
]


def plain(text: str) -> str:
    """``text`` without accents: the Spanish references are written without them."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def references(folder: Path) -> list[tuple[Path, str]]:
    lines = (folder / "references.tsv").read_text(encoding="utf-8").splitlines()
    return [(folder / name, ref) for name, _, ref in (line.partition("\t") for line in lines)]


def utterances() -> list[tuple[Path, str, str]]:
    """(recording, language, reference) of every recording scored here."""
    found = [(path, path.name[:2], ref) for path, ref in references(NON_ENGLISH)]
    english = [(path, "en", ref) for path, ref in references(SPEECH)]
    return found + english


def detection(folder: Path, scratch: Path) -> dict:
    """Each recording and command phrase as one utterance: what detection hears, how surely,
    and the seconds it takes detecting (ours, faster-whisper's own) against a given language."""
    whisper = engine.ENGINE.model(models.resolve_model(str(folder)), device="cpu")
    rows = []
    clips = [(path, language) for path, language, _ in utterances()]
    for number, (language, voice, text) in enumerate(COMMANDS):
        clip = scratch / f"command{number}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "130", "-w", clip, text], check=True)
        clips.append((clip, language))
    costs: dict[str, list[float]] = {"given": [], "detected": [], "faster_whisper_own": []}
    for path, language in clips:
        audio = decode_all(path)
        # Detection alone: the same first-window encoder output the engine detects on, without
        # decoding (a short unclear phrase can take a minute of fallback decoding on 2 cores).
        heard, probability, _ = whisper.detect_language(audio)
        rows.append(
            {
                "file": path.name,
                "language": language,
                "detected": heard,
                "probability": round(probability, 3),
                "right": heard == language,
            }
        )
        if path.parent == scratch:
            continue  # the timings are of real utterances
        for mode, options in (
            ("given", engine.Options(language=language, vad=False)),
            ("detected", engine.Options(vad=False)),
        ):
            started = time.perf_counter()
            engine.ENGINE.transcribe(audio, whisper, options)
            costs[mode].append(time.perf_counter() - started)
        started = time.perf_counter()
        pieces, _ = whisper.transcribe(audio, language=None, beam_size=5, vad_filter=False)
        list(pieces)
        costs["faster_whisper_own"].append(time.perf_counter() - started)
    real = [row for row in rows if not row["file"].startswith("command")]
    return {
        "accuracy_recordings": round(sum(row["right"] for row in real) / len(real), 3),
        "per_utterance": rows,
        "median_s_per_utterance": {
            mode: round(statistics.median(values), 3) for mode, values in costs.items()
        },
    }


def dictation(language: str, model: dict, runs: int, scratch: Path) -> dict:
    """The recordings of ``language`` played as one dictation; WER (accents removed) and the
    latency of each utterance, from the end of its speech to its edit."""
    pairs = [(path, ref) for path, lang, ref in utterances() if lang == language]
    stream = scratch / f"{language}.wav"
    join_recordings([path for path, _ in pairs], stream, 1.5)
    reference = plain(" ".join(ref for _, ref in pairs))
    results = [run_once(SPEECH, stream, True, model, warm_up=pairs[0][0]) for _ in range(runs)]
    errors, words = 0, 0
    for result in results:
        e, w = word_errors(reference, plain(result["text"]))
        errors, words = errors + e, words + w
    totals = [u["total"] for result in results for u in result["utterances"]]
    return {
        "wer": round(errors / words, 4),
        "words": words // len(results),
        "heard": [result.get("language") for result in results],
        "utterances": len(totals),
        "latency": {
            "p50_s": round(statistics.median(totals), 3),
            "p95_s": round(percentile(totals, 0.95), 3),
        },
        "texts": [result["text"] for result in results],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--skip-dictation", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        folder, _ = model_folder("base", scratch / "models")
        report: dict = {"model": "base, cpu, int8, beam 5", "detection": detection(folder, scratch)}
        if not args.skip_dictation:
            base = {"name": "base", "language": "auto"}
            report["dictation_base_auto"] = {
                language: dictation(language, base, args.runs, scratch)
                for language in ("fr", "es", "en")
            }
            report["dictation_tiny_en"] = {
                "en": dictation("en", {"name": "tiny.en"}, args.runs, scratch)
            }
            report["targets"] = TARGETS
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
