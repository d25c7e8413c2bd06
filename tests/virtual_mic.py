"""A PulseAudio virtual microphone for tests and benchmarks on machines without a sound card.

A null sink's monitor, remapped as the default source, is the microphone: what is played
into the sink, PortAudio hears (through ALSA's pulse plugin).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

SCRIPT = """\
load-module module-native-protocol-unix auth-anonymous=1
load-module module-null-sink sink_name=vsink rate=16000
load-module module-remap-source master=vsink.monitor source_name=vmic
set-default-sink vsink
set-default-source vmic
"""


class VirtualMicrophoneError(RuntimeError):
    """PulseAudio is missing or did not start."""


class VirtualMicrophone:
    """A running private PulseAudio server; ``env`` points a process at it."""

    def __init__(self, runtime_dir: Path) -> None:
        self.runtime_dir = runtime_dir
        self.env = {"XDG_RUNTIME_DIR": str(runtime_dir)}

    def play(self, path: Path) -> None:
        """Play ``path`` into the microphone; returns when it has been played."""
        subprocess.run(
            ["paplay", "-d", "vsink", str(path)], env={**os.environ, **self.env}, check=True
        )

    @classmethod
    @contextlib.contextmanager
    def start(cls, runtime_dir: Path) -> Iterator[VirtualMicrophone]:
        """Start PulseAudio in ``runtime_dir`` (a private folder); stopped on exit."""
        for binary in ("pulseaudio", "pactl", "pacat", "paplay"):
            if shutil.which(binary) is None:
                raise VirtualMicrophoneError(
                    f"{binary} is not installed; `make setup` installs it (apt-get install "
                    "pulseaudio pulseaudio-utils libasound2-plugins libportaudio2)"
                )
        runtime_dir.chmod(0o700)
        script = runtime_dir / "mic.pa"
        script.write_text(SCRIPT)
        env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir)}
        log = runtime_dir / "pulse.log"
        command = ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n"]
        command += ["-F", str(script), f"--log-target=file:{log}"]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        server = subprocess.Popen(command, env=env, **quiet)
        keep_alive = None
        try:
            deadline = time.monotonic() + 15
            while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise VirtualMicrophoneError(f"PulseAudio did not start; see {log}")
                time.sleep(0.1)
            # Without a reader an idle null sink renders in 2 s blocks, and a new
            # recording would hear nothing for its first 2 s.
            keep_alive = subprocess.Popen(
                [
                    "pacat",
                    "-r",
                    "-d",
                    "vsink.monitor",
                    "--latency-msec=10",
                    "--rate=16000",
                    "--channels=1",
                ],
                env=env,
                **quiet,
            )
            time.sleep(2.2)
            yield cls(runtime_dir)
        finally:
            for process in (keep_alive, server):
                if process is not None:
                    process.terminate()
                    try:
                        process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        process.kill()
