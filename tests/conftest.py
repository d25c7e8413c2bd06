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

from tests.virtual_mic import VirtualMicrophone, VirtualMicrophoneError

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


@pytest.fixture(scope="session")
def virtual_microphone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualMicrophone]:
    """A private PulseAudio server with a virtual microphone: what it plays, PortAudio hears."""
    try:
        with VirtualMicrophone.start(tmp_path_factory.mktemp("pulse")) as microphone:
            yield microphone
    except VirtualMicrophoneError as exc:
        pytest.fail(str(exc))
