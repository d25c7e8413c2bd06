"""Shared test fixtures: every test gets its own home, config and data folders."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def butler_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a Butler process whose files all live under ``tmp_path``."""
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        HF_HUB_OFFLINE="1",
    )
    env.pop("PYTHONSTARTUP", None)
    return env


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real redis-server on a free loopback port, for the Redis queue backend."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed; `make setup` installs it (apt-get install redis-server)"
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
            "--logfile",
            str(folder / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as conn:
                if conn.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            pytest.fail(f"redis-server did not start; see {folder / 'redis.log'}")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: int) -> str:
    """URL of the test Redis server, emptied for each test."""
    import redis

    url = f"redis://127.0.0.1:{redis_server}/0"
    redis.Redis.from_url(url).flushall()
    return url


class VirtualMicrophone:
    """A PulseAudio null sink whose monitor is the default source: what it plays, it hears."""

    def __init__(self, runtime_dir: Path) -> None:
        self.runtime_dir = runtime_dir
        self.env = {"XDG_RUNTIME_DIR": str(runtime_dir)}

    def play(self, path: Path) -> None:
        """Play ``path`` into the microphone and return when it has been played."""
        subprocess.run(
            ["paplay", "-d", "vsink", str(path)], env={**os.environ, **self.env}, check=True
        )


@pytest.fixture(scope="session")
def virtual_microphone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualMicrophone]:
    """A private PulseAudio server with a virtual microphone (see docs/dictation.md).

    There is no sound card here: a null sink's monitor, remapped as the default source, is
    the microphone, and PortAudio reaches it through ALSA's pulse plugin.
    """
    for binary in ("pulseaudio", "pacat", "paplay"):
        if shutil.which(binary) is None:
            pytest.fail(
                f"{binary} is not installed; `make setup` installs it (apt-get install "
                "pulseaudio pulseaudio-utils libasound2-plugins libportaudio2)"
            )
    runtime = tmp_path_factory.mktemp("pulse")
    runtime.chmod(0o700)
    script = runtime / "mic.pa"
    script.write_text(
        "load-module module-native-protocol-unix auth-anonymous=1\n"
        "load-module module-null-sink sink_name=vsink rate=16000\n"
        "load-module module-remap-source master=vsink.monitor source_name=vmic\n"
        "set-default-sink vsink\n"
        "set-default-source vmic\n"
    )
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    log = runtime / "pulse.log"
    server = subprocess.Popen(
        [
            "pulseaudio",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "-n",
            "-F",
            str(script),
            f"--log-target=file:{log}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    keep_alive = None
    try:
        deadline = time.monotonic() + 15
        while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode:
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail(f"PulseAudio did not start; see {log}")
            time.sleep(0.1)
        # Without a reader an idle null sink renders in 2 s blocks, and a new recording
        # would hear nothing for its first 2 s.
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
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(2.2)
        yield VirtualMicrophone(runtime)
    finally:
        for process in (keep_alive, server):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
