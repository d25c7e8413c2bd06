"""Provisional text: what one refresh of an utterance still being spoken costs the worker.

Prints JSON. The first 1, 2, 3.5 and 5 s of each English recording (what a refresh sees
while the speaker goes on) are transcribed as the partial text is (the worker's engine,
greedy, no VAD), interleaved over ``--runs``: in the full 30 s window (before), in a window
fitted to the piece (``provisional``: what the refresh now asks for), and fitted with the
previous refresh's text less its last two words given to the decoder as a prefix (the reuse
the issue suggests; faster-whisper's ``prefix``, so the engine's fitting is applied by hand).
Usage: python benchmarks/partial_decode.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wer import read_references

from butler_ls.job_api import decode_all
from tests.helpers import load_plugin_module

engine = load_plugin_module("transcriber", "engine")
models = load_plugin_module("transcriber", "models")

REPO = Path(__file__).resolve().parent.parent
LENGTHS = (1.0, 2.0, 3.5, 5.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    spec = models.resolve_model(models.BUNDLED)
    model = engine.ENGINE.model(spec, device="cpu", compute_type="int8", threads=2)
    pieces = []
    for path, _ in read_references(REPO / "tests" / "data" / "speech"):
        audio = decode_all(path)
        pieces += [audio[: int(s * 16000)] for s in LENGTHS if len(audio) >= s * 16000]

    def timed(function):
        started = time.perf_counter()
        result = function()
        return time.perf_counter() - started, result

    def full(piece):
        options = engine.Options(beam_size=1, vad=False, window="full")
        return engine.ENGINE.transcribe(piece, model, options).text

    def fitted(piece):
        options = engine.Options(beam_size=1, vad=False, provisional=True)
        return engine.ENGINE.transcribe(piece, model, options).text

    def with_prefix(piece, prefix):
        padded = engine._silence_after(piece)
        short = engine._fitted(model, len(padded))
        segments, _ = short.transcribe(
            padded, language="en", beam_size=1, vad_filter=False, temperature=0.0, prefix=prefix
        )
        return " ".join(s.text.strip() for s in segments)

    times: dict[str, list[float]] = {"full": [], "fit": [], "fit_prefix": []}
    changed = 0
    fitted(pieces[0])  # warm-up
    for run in range(args.runs):
        for piece in pieces:
            spent, text = timed(lambda piece=piece: full(piece))
            times["full"].append(spent)
            spent, text = timed(lambda piece=piece: fitted(piece))
            times["fit"].append(spent)
            prefix = " ".join(text.split()[:-2])
            spent, prefixed = timed(lambda piece=piece, prefix=prefix: with_prefix(piece, prefix))
            times["fit_prefix"].append(spent)
            changed += run == 0 and prefixed.strip() != text.strip()
    medians = {key: round(statistics.median(values), 4) for key, values in times.items()}
    print(
        json.dumps(
            {
                "model": "tiny.en, cpu, int8, greedy, no VAD",
                "pieces": len(pieces),
                "lengths_s": LENGTHS,
                "runs": args.runs,
                "median_s": medians,
                "p95_s": {
                    key: round(sorted(v)[round(0.95 * (len(v) - 1))], 4) for key, v in times.items()
                },
                "fit_speedup": round(medians["full"] / medians["fit"], 2),
                "prefix_speedup_over_fit": round(medians["fit"] / medians["fit_prefix"], 2),
                "prefix_changed_text": changed,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
