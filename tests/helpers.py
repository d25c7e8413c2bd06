"""Helpers shared by the test suites."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def load_plugin_module(plugin: str, name: str) -> types.ModuleType:
    """Import ``plugins/<plugin>/<name>.py`` as Butler does: from the package
    ``butler_plugins.<plugin>``, so relative imports inside the plugin work."""
    if "butler_plugins" not in sys.modules:
        root = types.ModuleType("butler_plugins", "Namespace of folder plugins.")
        root.__path__ = []
        sys.modules["butler_plugins"] = root
    package_name = f"butler_plugins.{plugin}"
    if package_name not in sys.modules:
        package = types.ModuleType(package_name)
        package.__path__ = [str(REPO / "plugins" / plugin)]
        sys.modules[package_name] = package
    return importlib.import_module(f"{package_name}.{name}")


def run_unprivileged(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code args`` where file permissions really hold: as root (CI runs
    as root), without the capabilities that override them (util-linux's setpriv drops
    them from the bounding set, so the child never gets them); else as it is."""
    command = [sys.executable, "-c", code, *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)
