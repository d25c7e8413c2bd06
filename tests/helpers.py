"""Helpers shared by the test suites."""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
from collections.abc import Iterator
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


def builtin_schema() -> dict:
    """The settings sections of the built-in plugins, read as the server reads them."""
    from butler_ls.host.manager import PluginManager
    from butler_ls.util.paths import builtin_plugins_dir

    manager = PluginManager(None, lambda message: None)  # type: ignore[arg-type]
    manager.discover([("builtin", builtin_plugins_dir())], entry_points=False)
    manager.load_schemas()
    return dict(manager.settings_schema())


def run_unprivileged(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code args`` where file permissions really hold: as root (CI runs
    as root), without the capabilities that override them (util-linux's setpriv drops
    them from the bounding set, so the child never gets them); else as it is."""
    command = [sys.executable, "-c", code, *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@contextlib.contextmanager
def launch_redis(folder: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A real redis-server on a free loopback port, its files in ``folder``; stopped (even
    when a test left it SIGSTOPped) at the end."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed; `make setup` installs it (apt-get install redis-server)"
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            *(binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "no", "--dir", str(folder), "--logfile", str(folder / "redis.log")),
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
            raise RuntimeError(f"redis-server did not start; see {folder / 'redis.log'}")
        yield process, port
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        process.terminate()
        process.wait(timeout=10)
