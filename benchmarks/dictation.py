"""Live dictation: latency from the end of each utterance to its edit in the client, by stage,
and the word error rate of dictation against transcribing each whole file directly.

Prints JSON. The recordings of DIR (references.tsv) are joined with pauses into one stream
and played in real time through ``butler.dictation.start`` (``audioFile``: the same path as
the microphone), into a document that this script's minimal editor holds and edits.
Usage: python benchmarks/dictation.py [DIR] [--runs 2] [--pause 1.5 ...] [--inside S ...]
       [--no-partial-text]
       [--model tiny.en|base|FOLDER] [--language auto|en|fr...] [--window fit|full]
       [--end-of-utterance sentence|pause]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
from _lsp import StdioServer, running_server, worker_process
from wer import direct_transcripts, model_folder, read_references

from butler_ls.util.word_errors import word_errors
from tests.helpers import load_plugin_module

join_with_pauses = load_plugin_module("voice_input", "recordings").join_with_pauses

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"p50_s": 1.0, "p95_s": 1.6, "wer_points": 1.5}
STAGES = ("vad", "spool", "queue", "model", "edit", "total")


class Editor:
    """One open document that applies the server's edits, as an editor would."""

    def __init__(self, server: StdioServer, path: Path) -> None:
        self.server = server
        self.uri = path.as_uri()
        self.text = ""
        self.version = 1
        self.history: list[tuple[float, str]] = []  # (monotonic time, text) after each edit
        server.handlers["workspace/applyEdit"] = self.apply
        server.send(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": self.uri,
                    "languageId": "markdown",
                    "version": 1,
                    "text": "",
                }
            },
            request=False,
        )

    def offset(self, position: dict) -> int:
        lines = self.text.split("\n")
        return sum(len(line) + 1 for line in lines[: position["line"]]) + position["character"]

    def apply(self, params: dict) -> dict:
        edit = params["edit"]
        edits = edit.get("changes", {}).get(self.uri, [])
        for change in edit.get("documentChanges") or []:
            edits += change["edits"]
        for text_edit in sorted(edits, key=lambda e: self.offset(e["range"]["start"]))[::-1]:
            start = self.offset(text_edit["range"]["start"])
            end = self.offset(text_edit["range"]["end"])
            self.text = self.text[:start] + text_edit["newText"] + self.text[end:]
            self.version += 1
            self.server.send(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": self.uri, "version": self.version},
                    "contentChanges": [{"range": text_edit["range"], "text": text_edit["newText"]}],
                },
                request=False,
            )
        self.history.append((time.monotonic(), self.text))
        return {"applied": True}


def dictate(server: StdioServer, editor: Editor, audio: Path) -> dict:
    """Play ``audio`` into the document; returns stop's answer once everything is in."""
    session = server.command(
        "butler.dictation.start", {"uri": editor.uri, "audioFile": str(audio)}
    )["sessionId"]

    def idle(message: dict) -> bool:
        params = message.get("params") or {}
        return (
            message["method"] == "butler/dictationState"
            and params.get("sessionId") == session
            and params.get("state") in ("idle", "error")
        )

    server.pump(idle)
    return server.command("butler.dictation.stop", {"sessionId": session})


def run_once(
    folder: Path,
    audio: Path,
    partial_text: bool,
    model: dict | None = None,
    warm_up: Path | None = None,
    end_of_utterance: str = "sentence",
    partial_refresh: float | None = None,
) -> dict:
    """One session over ``audio`` in a fresh server (``model``: its ``model.*`` settings),
    after a warm-up dictation of ``warm_up`` (default: DIR's ps_goforward.wav)."""
    options = {
        "throttle": {"maxCpuPercent": 100, "minFreeMemoryMb": 0},
        "voice_input": {"partialText": partial_text, "endOfUtterance": end_of_utterance}
        | ({"partialRefresh": partial_refresh} if partial_refresh else {}),
        "model": model or {},
    }
    with running_server(options) as (server, root):
        # Warm-up: the worker starts and loads the model (not part of the figures).
        warm = Editor(server, root / "warm.md")
        dictate(server, warm, warm_up or folder / "ps_goforward.wav")
        editor = Editor(server, root / "draft.md")
        processes = [psutil.Process(server.proc.pid), worker_process(server)]
        cpu = [sum(process.cpu_times()[:2]) for process in processes]
        began = time.monotonic()
        answer = dictate(server, editor, audio)
        answer["wall_s"] = time.monotonic() - began
        cpu = [sum(p.cpu_times()[:2]) - c for p, c in zip(processes, cpu, strict=True)]
        answer["cpu_percent"] = [round(100 * c / answer["wall_s"], 1) for c in cpu]
        answer["document"] = editor.text
        answer["shown"] = shown_texts(server, editor, answer["sessionId"])
    return answer


def shown_texts(server: StdioServer, editor: Editor, session: str) -> list[tuple[float, str]]:
    """What the user saw, in order: (monotonic time, the document's text and the provisional
    text after it) at each edit and each change of ``partial`` in butler/dictationState."""
    events = [(at, "text", text) for at, text in editor.history]
    for message in server.notifications:
        params = message.get("params") or {}
        if message["method"] == "butler/dictationState" and params.get("sessionId") == session:
            events.append((message["_at"], "partial", params.get("partial") or ""))
    events.sort(key=lambda event: event[0])
    shown, text, partial = [], "", ""
    for at, kind, value in events:
        if kind == "text":
            text = value
        else:
            partial = value
        if not shown or shown[-1][1] != f"{text} {partial}":
            shown.append((at, f"{text} {partial}"))
    return shown


def word_ends(speech: list, folder: Path) -> list:
    """(word, start, end) in stream seconds of every word of the stream, from faster-whisper's
    word timestamps on each piece of speech (beam 5, no VAD) where join_with_pauses put it."""
    from faster_whisper import WhisperModel

    from butler_ls.util.word_errors import normalize

    model = WhisperModel(str(folder), device="cpu", compute_type="int8")
    words = []
    for offset, samples in speech:
        segments, _ = model.transcribe(samples, beam_size=5, word_timestamps=True)
        for segment in segments:
            for word in segment.words or []:
                for token in normalize(word.word):
                    words.append((token, offset + word.start, offset + word.end))
    return words


def word_visible(run: dict, words: list) -> dict:
    """Seconds from each word's end in the audio to its first appearance in what was shown
    (the provisional text or the document), aligned in order; words never shown as spoken
    (misheard) are counted apart."""
    from difflib import SequenceMatcher

    from butler_ls.util.word_errors import normalize

    zero = run["streamStartMonotonic"]
    first: dict[int, float] = {}
    for at, shown in run["shown"]:
        spoken = [i for i, (_, start, _) in enumerate(words) if zero + start <= at]
        target = [words[i][0] for i in spoken]
        seen = normalize(shown)
        matcher = SequenceMatcher(None, target, seen, autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.a, block.a + block.size):
                first.setdefault(spoken[k], at)
    delays = [first[i] - (zero + end) for i, (_, _, end) in enumerate(words) if i in first]
    slowest = sorted(
        (
            (round(first[i] - (zero + end), 3), word, round(end, 2))
            for i, (word, _, end) in enumerate(words)
            if i in first
        ),
        reverse=True,
    )[:5]
    return {"delays": delays, "words": len(words), "shown": len(first), "slowest": slowest}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir", type=Path, nargs="?", default=REPO / "tests" / "data" / "speech")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--pause", type=float, nargs="+", default=[1.5], help="between files")
    parser.add_argument(
        "--inside",
        type=float,
        nargs="*",
        default=[],
        help="pauses inserted mid-recording (at a gap between words), in turn",
    )
    parser.add_argument("--no-partial-text", action="store_true")
    parser.add_argument("--model", default="tiny.en", help="model.name: tiny.en, base, a folder")
    parser.add_argument("--language", default=None, help="model.language: auto, en, fr...")
    parser.add_argument("--window", default="fit", choices=("fit", "full"), help="model.window")
    parser.add_argument(
        "--end-of-utterance",
        default="sentence",
        choices=("sentence", "pause"),
        help="voice_input.endOfUtterance",
    )
    parser.add_argument("--partial-refresh", type=float, help="voice_input.partialRefresh")
    args = parser.parse_args()
    model = {"name": args.model, "window": args.window}
    model |= {"language": args.language} if args.language else {}
    pairs = read_references(args.dir)
    paths = [path for path, _ in pairs]
    reference = " ".join(ref for _, ref in pairs)
    with tempfile.TemporaryDirectory() as scratch:
        audio = Path(scratch) / "stream.wav"
        speech = join_with_pauses(paths, audio, args.pause, args.inside)
        with wave.open(str(audio), "rb") as wav:
            seconds = wav.getnframes() / wav.getframerate()
        runs = [
            run_once(
                args.dir,
                audio,
                not args.no_partial_text,
                model,
                end_of_utterance=args.end_of_utterance,
                partial_refresh=args.partial_refresh,
            )
            for _ in range(args.runs)
        ]
        folder, _ = model_folder(args.model, Path(scratch) / "models")
        direct = direct_transcripts(paths, 5, True, folder)
        words = word_ends(speech, folder)
    visible = [word_visible(run, words) for run in runs]
    delays = [d for v in visible for d in v["delays"]]
    for run in runs:
        del run["shown"]

    utterances = [u for run in runs for u in run["utterances"]]
    stages = {
        stage: {
            "median_s": round(statistics.median(u[stage] for u in utterances), 4),
            "p95_s": round(percentile([u[stage] for u in utterances], 0.95), 4),
        }
        for stage in STAGES
    }
    totals = [u["total"] for u in utterances]
    d_errors, words = word_errors(reference, " ".join(direct))
    dictation = []
    for run in runs:
        errors, _ = word_errors(reference, run["text"])
        dictation.append(errors / words)
    dictation_wer = statistics.median(dictation)
    points = 100 * (dictation_wer - d_errors / words)
    p50, p95 = statistics.median(totals), percentile(totals, 0.95)
    print(
        json.dumps(
            {
                "audio_s": round(seconds, 1),
                "files": len(paths),
                "runs": len(runs),
                "utterances": len(utterances),
                "utterance_s": {
                    "min": round(min(u["duration"] for u in utterances), 2),
                    "max": round(max(u["duration"] for u in utterances), 2),
                },
                "latency": {"p50_s": round(p50, 3), "p95_s": round(p95, 3), "stages": stages},
                "wer": {
                    "dictation": round(dictation_wer, 4),
                    "dictation_runs": [round(w, 4) for w in dictation],
                    "direct_whole_files": round(d_errors / words, 4),
                    "difference_points": round(points, 2),
                    "words": words,
                },
                # From a word's end in the audio (faster-whisper's word timestamps on each
                # file) to its first appearance in the provisional text or the document.
                "word_visible": {
                    "p50_s": round(statistics.median(delays), 3) if delays else None,
                    "p95_s": round(percentile(delays, 0.95), 3) if delays else None,
                    "words_shown": sum(v["shown"] for v in visible),
                    "words": sum(v["words"] for v in visible),
                    # (seconds, word, its end in the stream) of each run's slowest five.
                    "slowest": [v["slowest"] for v in visible],
                },
                "targets": TARGETS,
                "within_targets": p50 <= TARGETS["p50_s"]
                and p95 <= TARGETS["p95_s"]
                and points <= TARGETS["wer_points"],
                "settings": {
                    "model": f"{args.model}, cpu, int8, window {args.window}",
                    "language": args.language or "model.language unset",
                    "heard": [run.get("language") for run in runs],
                    "pause_s": args.pause,
                    "inside_s": args.inside,
                    "partial_text": not args.no_partial_text,
                    "played": "real time (speed 1.0)",
                    "end_of_utterance": args.end_of_utterance,
                    "partial_refresh_s": args.partial_refresh or "default",
                },
                # Percent of one core over the whole stream (speech and its pauses).
                "cpu_percent_while_dictating": {
                    "server": [run["cpu_percent"][0] for run in runs],
                    "worker": [run["cpu_percent"][1] for run in runs],
                },
                "speculative": sum(u["speculative"] for u in utterances),
                # Ended at a finished sentence before the whole pause, and of those, how many
                # speech followed within that pause (a sentence possibly split in two).
                "early_ends": sum(run.get("earlyEnds", 0) for run in runs),
                "resumed_after_early_end": sum(run.get("resumedAfterEarlyEnd", 0) for run in runs),
                "early_split_share_of_commits": round(
                    sum(run.get("resumedAfterEarlyEnd", 0) for run in runs) / len(utterances), 3
                ),
                "per_utterance": [run["utterances"] for run in runs],
                "texts": [run["text"] for run in runs],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
