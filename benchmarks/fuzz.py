"""A longer fuzzing run against the real butler-ls than the test suite's fixed seed: prints
JSON with the requests sent, answers missing, internal errors and plugins switched off.

    python benchmarks/fuzz.py [--examples 3000] [--seed N]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lsp import isolated_env

from tests.fuzzing import (
    INTERNAL_ERROR,
    RawLspClient,
    command_arguments,
    deep,
    plausible_arguments,
    tree,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    outcome: collections.Counter[str] = collections.Counter()
    problems: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as base:
        home, root = Path(base) / "home", Path(base) / "workspace"
        (home / "config").mkdir(parents=True)
        (home / ".config").mkdir()
        root.mkdir()
        client = RawLspClient(isolated_env(str(home)), cwd=root)
        init = client.initialize(root, {"audio": {"device": "no-such-microphone-for-fuzzing"}})
        commands = sorted(init["capabilities"]["executeCommandProvider"]["commands"])
        skip = (root / "notes", home / "data" / "butler", home / "config" / "pulse")
        before = tree(Path(base), skip=skip)

        def states() -> dict[str, str]:
            answer = client.command("butler.plugins.list", [], timeout=10) or {}
            return {p["id"]: p["state"] for p in answer.get("result", {}).get("plugins", [])}

        baseline = states()
        started = time.monotonic()

        @seed(args.seed)
        @settings(
            max_examples=args.examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def fuzz(data: Any) -> None:
            command = data.draw(st.sampled_from(commands))
            arguments = data.draw(plausible_arguments(command) | command_arguments())
            answer = client.command(command, arguments, timeout=30)
            record(command, arguments, answer)

        def record(command: str, arguments: Any, answer: dict | None) -> None:
            outcome["requests"] += 1
            if answer is None:
                kind = "missing"
            elif "error" in answer:
                kind = f"error {answer['error']['code']}"
            else:
                kind = "result"
            outcome[kind] += 1
            changed = states() != baseline
            if answer is None or kind == f"error {INTERNAL_ERROR}" or changed:
                outcome["plugins changed"] += changed
                problems.append(
                    {"command": command, "arguments": repr(arguments)[:200], "answer": answer}
                )

        fuzz()
        for raw in (deep(2000), "5", "true", '"x"'):
            record("butler.status", raw[:20], client.command_json("butler.status", raw))
        elapsed = time.monotonic() - started
        outside = sorted(tree(Path(base), skip=skip) - before)
        client.close()
    print(
        json.dumps(
            {
                "seed": args.seed,
                "commands": commands,
                "requests": outcome["requests"],
                "answers": {k: v for k, v in outcome.items() if k not in ("requests",)},
                "answers_missing": outcome["missing"],
                "internal_errors": outcome[f"error {INTERNAL_ERROR}"],
                "plugins_changed": outcome["plugins changed"],
                "files_written_outside": outside,
                "seconds": round(elapsed, 1),
                "problems": problems[:20],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
