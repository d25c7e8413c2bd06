"""The figures of #14's identifiers: how many spoken identifiers are written exactly, with
and without the feature, and what the document hotwords cost in model time and word errors.

Prints JSON. (1) Generated speech (espeak-ng) naming the identifiers of a Python file, each
sentence transcribed as one dictated utterance (tiny.en, beam 5, no VAD, through the worker's
engine, as dictation runs it)
and written as voice_input writes it: without the feature (no hotwords, no matcher), with
hotwords only, with the matcher only, and with both. (2) The English recordings of
tests/data/speech transcribed with no hotwords and with hotword lists of several sizes taken
from a real source file (plugins/voice_input/session.py, ranked around its middle, bounded as
dictation bounds them): corpus WER and the model's time per file, medians over ``--runs``.
Usage: python benchmarks/identifiers.py [--runs 3] [--sizes 0 10 20 40] [--window fit|full]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wer import read_references, score

from butler_ls.job_api import decode_all
from tests.helpers import load_plugin_module

REPO = Path(__file__).resolve().parents[1]
ids = load_plugin_module("voice_input", "identifiers")
engine = load_plugin_module("transcriber", "engine")
models = load_plugin_module("transcriber", "models")
voice_commands = load_plugin_module("voice_input", "voice_commands")
SPEECH = REPO / "tests" / "data" / "speech"

CODE = '''\
"""A small service, for dictating into."""

MAX_RETRY_COUNT = 3
DEFAULT_PAGE_SIZE = 50
CACHE_DIRECTORY = "/tmp/cache"


class SessionStore:
    def __init__(self, database_connection, build_settings):
        self.database_connection = database_connection
        self.query_params = {}
        self.retry_backoff_seconds = 2.0
        self.worker_pool_size = 4


class HTTPServer:
    def getUserById(self, user_id, request_timeout):
        user_name = self.lookup_table.get(user_id)
        return parse_config_file(user_name)

    def sendHttpRequest(self, next_page_token, error_message):
        if is_valid_token(next_page_token):
            return refreshAccessToken(self.last_modified_time, self.startDate)
        raise ValueError(error_message)

    def flush_pending_writes(self, audit_log_path):
        self.metricsRegistry.clear()
        return self.shutdown_hooks
'''

# Spoken sentence -> the identifiers it names, as CODE writes them.
SENTENCES = [
    ("call get user by id with max retry count", ["getUserById", "MAX_RETRY_COUNT"]),
    ("set the request timeout to default page size", ["request_timeout", "DEFAULT_PAGE_SIZE"]),
    ("then parse config file and send http request", ["parse_config_file", "sendHttpRequest"]),
    ("return the user name from the session store", ["user_name", "SessionStore"]),
    ("if is valid token then refresh access token", ["is_valid_token", "refreshAccessToken"]),
    ("log the error message from the http server", ["error_message", "HTTPServer"]),
    ("read the cache directory from build settings", ["CACHE_DIRECTORY", "build_settings"]),
    ("compare the last modified time with the start date", ["last_modified_time", "startDate"]),
    ("append the next page token to the query params", ["next_page_token", "query_params"]),
    (
        "close the database connection before shutdown hooks",
        ["database_connection", "shutdown_hooks"],
    ),
]
CURSOR_LINE = 22  # inside sendHttpRequest


WINDOW = {"value": "fit"}
"""``model.window`` of the transcriptions (``--window``)."""


def load_model():
    """tiny.en as the worker loads it on a CPU."""
    return engine.ENGINE.model(models.resolve_model("tiny.en"), device="cpu")


def transcribe(model, path: Path, hotwords: list[str]) -> tuple[str, float]:
    """One utterance as dictation sends it, through the worker's engine (beam 5, no VAD,
    the hotwords closed as voice_input closes them); its text and the model's seconds."""
    audio = decode_all(path)
    options = engine.Options(
        language="en", vad=False, vocabulary=ids.closed(hotwords), window=WINDOW["value"]
    )
    began = time.perf_counter()
    text = engine.ENGINE.transcribe(audio, model, options).text
    return text, time.perf_counter() - began


_DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def spelled(text: str) -> str:
    """Digits as words: "29340" is "two nine three four zero" (a prompt makes tiny.en write
    the corpus's spoken digits as a number, which WER counts as four errors)."""
    return re.sub(r"[0-9]", lambda m: f" {_DIGIT_WORDS[int(m[0])]} ", text)


def written(transcript: str, matcher) -> str:
    """The transcript as voice_input writes it at the start of a line."""
    piece = voice_commands.interpret(transcript, voice_commands.RULES["en"], names=matcher)
    return voice_commands.join("", piece.text, exact_start=piece.exact_start)


def exact(text: str, names: list[str]) -> int:
    """How many of ``names`` the text writes exactly, as whole tokens."""
    tokens = set(re.findall(r"[\w-]+", text))
    return sum(name in tokens for name in names)


def identifier_accuracy(model, folder: Path, max_hotwords: int) -> dict:
    words = ids.Scanner().scan(CODE, True)
    hotwords = ids.rank(words, CURSOR_LINE, [], [], count=max_hotwords)
    matcher = ids.Matcher(sorted(words, key=lambda w: w.distance(CURSOR_LINE)))
    conditions = {
        "without": ([], None),
        "hotwords_only": (hotwords, None),
        "matcher_only": ([], matcher),
        "with": (hotwords, matcher),
    }
    total = sum(len(names) for _, names in SENTENCES)
    result: dict = {"identifiers": total, "hotwords": hotwords}
    examples: list[dict] = []
    for condition, (hot, names) in conditions.items():
        hits = 0
        for n, (sentence, expected) in enumerate(SENTENCES):
            path = folder / f"id{n}.wav"
            text = written(transcribe(model, path, hot)[0], names)
            hits += exact(text, expected)
            if condition in ("without", "with"):
                examples.append({"said": sentence, "condition": condition, "written": text})
        result[condition] = {"exact": hits, "share": round(hits / total, 3)}
    result["examples"] = examples
    return result


def hotword_cost(model, sizes: list[int], runs: int) -> dict:
    pairs = read_references(SPEECH)
    source = (REPO / "plugins" / "voice_input" / "session.py").read_text()
    words = ids.Scanner().scan(source, True)
    middle = source.count("\n") // 2
    lists = {size: ids.rank(words, middle, [], [], count=size) for size in sizes}
    times: dict[int, list[float]] = {size: [] for size in sizes}
    texts: dict[int, list[str]] = {}
    transcribe(model, pairs[0][0], [])  # warm up
    for _ in range(runs):
        for size in sizes:  # interleaved, so drift in the machine's speed hits all alike
            run = [transcribe(model, path, lists[size]) for path, _ in pairs]
            texts[size] = [text for text, _ in run]
            times[size].append(sum(seconds for _, seconds in run))
    references = [reference for _, reference in pairs]
    base = statistics.median(times[sizes[0]])
    report = {}
    for size in sizes:
        median = statistics.median(times[size])
        report[str(size)] = {
            "hotwords": len(lists[size]),
            "characters": len(", ".join(lists[size])),
            "wer": score(references, texts[size]),
            "wer_digits_as_words": score(references, [spelled(t) for t in texts[size]]),
            "texts": texts[size],
            "model_seconds_median": round(median, 3),
            "model_seconds_runs": [round(t, 3) for t in times[size]],
            "time_vs_none": round(median / base - 1, 3),
        }
    return {
        "files": len(pairs),
        "hotwords_from": "plugins/voice_input/session.py, ranked around its middle line",
        "example_list": lists[max(sizes)],
        "by_size": report,
        "target": "no WER loss, <= 5% more model time",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 10, 20, 40])
    parser.add_argument("--max-hotwords", type=int, default=10)
    parser.add_argument("--window", default="fit", choices=("fit", "full"), help="model.window")
    args = parser.parse_args()
    WINDOW["value"] = args.window
    model = load_model()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n, (sentence, _) in enumerate(SENTENCES):
            wav = folder / f"id{n}.wav"
            subprocess.run(["espeak-ng", "-s", "140", "-w", str(wav), sentence], check=True)
        accuracy = identifier_accuracy(model, folder, args.max_hotwords)
    cost = hotword_cost(model, sorted(set([0, *args.sizes])), args.runs)
    print(
        json.dumps(
            {
                "identifier_accuracy": accuracy,
                "hotword_cost": cost,
                "settings": {
                    "model": f"tiny.en, cpu, int8, beam 5, no VAD, window {args.window}",
                    "speech": "espeak-ng -s 140 (identifiers); tests/data/speech (cost)",
                    "max_hotwords": args.max_hotwords,
                    "runs": args.runs,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
