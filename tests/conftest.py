"""Shared test fixtures: every test gets its own home, config and data folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import launch_redis
from tests.virtual_mic import VirtualMicrophone, VirtualMicrophoneError

REPO = Path(__file__).resolve().parent.parent


def environment_for(home: Path) -> dict[str, str]:
    """Environment for a Butler process (or an editor starting one) whose home, config,
    data and cache folders all live under ``home``, offline."""
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


@pytest.fixture
def butler_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a Butler process whose files all live under ``tmp_path``."""
    home = tmp_path / "home"
    home.mkdir()
    return environment_for(home)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real redis-server on a free loopback port, for the Redis queue backend."""
    try:
        with launch_redis(tmp_path_factory.mktemp("redis")) as (_, port):
            yield port
    except RuntimeError as exc:
        pytest.fail(str(exc))


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
