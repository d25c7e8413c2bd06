"""``model.window``: what encoding a short piece at its own length (``fit``) gains over the
full 30 s window (``full``), in model time, word errors and language detection.

Prints JSON. Each recording is transcribed as one dictated utterance is (the worker's engine,
beam 5, no VAD), interleaved over ``--runs`` so drift in the machine's speed hits both alike:
tiny.en and base on the English recordings, base with ``model.language: auto`` on the French
and Spanish ones (accents removed before scoring). ``loops`` counts the pieces whose fitted
decoding ran in a loop and were decoded again in full (their time included).
Usage: python benchmarks/encoder_window.py [--runs 3] [--models tiny.en base]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from languages import NON_ENGLISH, SPEECH, plain, references
from wer import model_folder, score

from butler_ls.job_api import decode_all
from tests.helpers import load_plugin_module

engine = load_plugin_module("transcriber", "engine")
models = load_plugin_module("transcriber", "models")

WINDOWS = ("full", "fit")


def measure(whisper, clips: list[tuple[Path, str, str]], runs: int, given: bool) -> dict:
    """``clips``: (recording, language, reference). Per window: WER, detection, times."""
    loops = {"count": 0}
    looped = engine._looped

    def counting(pieces, seconds):
        found = looped(pieces, seconds)
        loops["count"] += found
        return found

    engine._looped = counting
    audio = {path: decode_all(path) for path, _, _ in clips}
    times: dict[str, list[float]] = {window: [] for window in WINDOWS}
    texts: dict[str, list[str]] = {}
    heard: dict[str, list[str]] = {}
    loop_counts = {window: 0 for window in WINDOWS}
    try:
        for _ in range(runs):
            for window in WINDOWS:
                texts[window], heard[window] = [], []
                for path, language, _ in clips:
                    options = engine.Options(
                        language=language if given else None, vad=False, window=window
                    )
                    before = loops["count"]
                    started = time.perf_counter()
                    result = engine.ENGINE.transcribe(audio[path], whisper, options)
                    times[window].append(time.perf_counter() - started)
                    loop_counts[window] += loops["count"] - before
                    texts[window].append(plain(result.text))
                    heard[window].append(result.language)
    finally:
        engine._looped = looped
    refs = [plain(reference) for _, _, reference in clips]
    report: dict = {"pieces": len(clips), "runs": runs}
    for window in WINDOWS:
        right = sum(h == language for h, (_, language, _) in zip(heard[window], clips, strict=True))
        report[window] = {
            "wer": score(refs, texts[window]),
            "language_right": f"{right}/{len(clips)}",
            "model_s_median": round(statistics.median(times[window]), 3),
            "model_s_p95": round(sorted(times[window])[int(0.95 * (len(times[window]) - 1))], 3),
            "loops_redone": loop_counts[window],
            "texts": texts[window],
        }
    full, fit = report["full"]["model_s_median"], report["fit"]["model_s_median"]
    report["speedup_median"] = round(full / fit, 2) if fit else None
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    args = parser.parse_args()
    english = [(path, "en", ref) for path, ref in references(SPEECH)]
    other = [(path, path.name[:2], ref) for path, ref in references(NON_ENGLISH)]
    report: dict = {"margin_frames": engine.FIT_MARGIN_FRAMES}
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.models:
            folder, _ = model_folder(name, Path(scratch))
            whisper = engine.ENGINE.model(models.resolve_model(str(folder)), device="cpu")
            report[name] = {"english": measure(whisper, english, args.runs, given=True)}
            if whisper.model.is_multilingual:
                report[name]["french_spanish_auto"] = measure(whisper, other, args.runs, False)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
