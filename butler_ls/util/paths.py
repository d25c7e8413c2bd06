"""Where Butler keeps its files: config, data (queue, audio spool, logs) and user plugins.

All locations come from platformdirs; what Butler keeps there is private (0600 files in
0700 folders), while notes and transcripts it writes for the user follow the user's umask.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import attrs
import platformdirs

APP_NAME = "butler"
CONFIG_FILE_NAME = "config.yaml"


@attrs.frozen
class Paths:
    """The folders and files Butler uses on this machine."""

    config_dir: Path
    """User config folder (``~/.config/butler`` on Linux); holds ``config.yaml``."""

    data_dir: Path
    """User data folder (``~/.local/share/butler`` on Linux): queue, spool, logs, plugins."""

    @classmethod
    def default(cls) -> Paths:
        """The platform's standard locations (honours ``XDG_*`` variables on Linux)."""
        return cls(
            config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        )

    @property
    def config_file(self) -> Path:
        """The YAML settings file, the first (lowest-priority) settings source."""
        return self.config_dir / CONFIG_FILE_NAME

    @property
    def log_dir(self) -> Path:
        """Rotating log files."""
        return self.data_dir / "logs"

    @property
    def queue_dir(self) -> Path:
        """Default home of the SQLite task queue."""
        return self.data_dir / "queue"

    @property
    def user_plugins_dir(self) -> Path:
        """Plugins the user installs by dropping a folder here."""
        return self.data_dir / "plugins"

    def plugin_data_dir(self, plugin_id: str) -> Path:
        """A private folder of one plugin's own, created on first use."""
        return ensure_private_dir(self.data_dir / "plugin-data" / plugin_id)

    def ensure(self) -> None:
        """Create the data folders, private to the user (and tighten what an older
        version left readable by others)."""
        for folder in (self.data_dir, self.log_dir, self.queue_dir):
            ensure_private_dir(folder)
        make_private(self.data_dir)


_user_umask: int | None = None


def keep_private() -> None:
    """Make every file this process creates private: umask 077 for the server and worker.

    Files written for the user (notes, transcripts) take ``user_umask()`` explicitly.
    """
    global _user_umask
    previous = os.umask(0o077)
    if _user_umask is None:
        _user_umask = previous


def user_umask() -> int:
    """The umask the user started Butler with (the current one before ``keep_private``)."""
    if _user_umask is not None:
        return _user_umask
    # Reading os.umask means setting it, which races with other threads; Linux shows it.
    try:
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    except (OSError, ValueError, StopIteration):
        old = os.umask(0o077)
        os.umask(old)
        return old


def make_private(folder: Path) -> int:
    """Make ``folder``'s tree 0700 folders and 0600 files (links are left alone); returns
    how many modes it changed."""
    changed = 0
    for root, dirs, files in os.walk(folder):
        for name, wanted in [*((d, 0o700) for d in dirs), *((f, 0o600) for f in files)]:
            path = os.path.join(root, name)
            try:
                mode = os.lstat(path).st_mode
                if not stat.S_ISLNK(mode) and mode & 0o077:
                    os.chmod(path, mode & wanted)
                    changed += 1
            except OSError:
                continue  # gone meanwhile, or not ours: nothing to tighten
    return changed


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkdir's mode is masked by the umask and ignored for existing folders.
    if (path.stat().st_mode & 0o777) != 0o700:
        os.chmod(path, 0o700)
    return path


def builtin_plugins_dir() -> Path:
    """The folder of the plugins that ship with Butler.

    In a source checkout (or an editable install) it is the top-level ``plugins/``;
    in a wheel it travels inside the package as ``butler_ls/_builtin_plugins``.
    """
    package_dir = Path(__file__).resolve().parent.parent  # butler_ls/
    bundled = package_dir / "_builtin_plugins"
    if bundled.is_dir():
        return bundled
    return package_dir.parent / "plugins"
