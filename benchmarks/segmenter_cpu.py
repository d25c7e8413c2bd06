"""CPU the utterance segmenter (WebRTC VAD, and the level meter) costs for a minute of
real speech with pauses, fed in 100 ms chunks as a microphone delivers them. Prints JSON.

    python benchmarks/segmenter_cpu.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import load_plugin_module
from tests.unit.test_segmenter import RATE, continuous_stream, paused_stream

segmenter = load_plugin_module("voice_input", "segmenter")


def main() -> None:
    stream = paused_stream()[0] + continuous_stream(30.0)
    stream = (stream * 2)[: 60 * RATE * 2]
    figures: dict[str, float] = {"audio_s": 60}
    for meter in (False, True):
        cutter = segmenter.Segmenter()
        count = 0
        started = time.process_time()
        for at in range(0, len(stream), 3200):
            count += len(cutter.feed(stream[at : at + 3200]))
            if meter:  # ten readings a second, as butler/dictationState sends them
                cutter.level_dbfs()
        count += len(cutter.flush())
        cpu_ms = (time.process_time() - started) * 1000
        figures["cpu_ms_with_meter" if meter else "cpu_ms"] = round(cpu_ms, 1)
        figures["utterances"] = count
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
