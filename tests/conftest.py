"""Shared test fixtures: every test gets its own home, config and data folders."""

from __future__ import annotations

import os
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
