"""Privacy of Butler's data folder: private modes, tightened leftovers, user-mode notes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from butler_ls.util.paths import Paths, make_private


def test_make_private_tightens_a_tree_and_leaves_links_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "plugin-data" / "x").mkdir(parents=True)
    os.chmod(data / "plugin-data", 0o755)
    (data / "queue.db").write_text("")
    os.chmod(data / "queue.db", 0o644)
    outside = tmp_path / "outside.txt"
    outside.write_text("")
    os.chmod(outside, 0o644)
    (data / "link").symlink_to(outside)
    assert make_private(data) >= 2
    assert (data / "plugin-data").stat().st_mode & 0o777 == 0o700
    assert (data / "queue.db").stat().st_mode & 0o777 == 0o600
    assert outside.stat().st_mode & 0o777 == 0o644
    assert make_private(data) == 0


def test_ensure_makes_an_old_data_folder_private(tmp_path: Path) -> None:
    paths = Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    (tmp_path / "data" / "logs").mkdir(parents=True)
    log = tmp_path / "data" / "logs" / "butler-ls.log.1"
    log.write_text("old")
    os.chmod(log, 0o644)
    paths.ensure()
    assert log.stat().st_mode & 0o777 == 0o600
    for folder in (paths.data_dir, paths.log_dir, paths.queue_dir):
        assert folder.stat().st_mode & 0o777 == 0o700


def test_private_process_still_writes_notes_with_the_users_umask(tmp_path: Path) -> None:
    # keep_private() sets umask 077 for good, so it runs in a child process.
    script = textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        os.umask(0o022)
        from butler_ls.util.paths import keep_private
        from butler_ls.util.safe_write import atomic_write
        keep_private()
        root = Path(sys.argv[1])
        atomic_write(root / "notes" / "daily" / "2026-01-01.md", "# note\\n")
        (root / "data.db").write_text("")
        """
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, cwd=tmp_path)
    assert (tmp_path / "notes").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "notes" / "daily").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "notes" / "daily" / "2026-01-01.md").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "data.db").stat().st_mode & 0o777 == 0o600
