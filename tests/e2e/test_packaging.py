"""The wheel: the built-in plugins travel inside it and the executable runs."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_ships_the_builtin_plugins_and_a_working_executable(tmp_path: Path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("butler_ls-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for plugin in ("voice_input", "daily_writer"):
        assert f"butler_ls/_builtin_plugins/{plugin}/plugin.yaml" in names
    assert not any(name.startswith("plugins/") for name in names)
    env_dir = tmp_path / "venv"
    # The test venv's packages stand in for the dependencies (no second download).
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    (site / "deps.pth").write_text(
        "\n".join(p for p in sys.path if p.endswith("site-packages")) + "\n"
    )
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "unpacked")
    (site / "butler.pth").write_text(str(tmp_path / "unpacked") + "\n")
    python = env_dir / "bin" / "python"
    code = (
        "from butler_ls.util.paths import builtin_plugins_dir as b; "
        "print(b()); print(sorted(p.name for p in b().iterdir()))"
    )
    out = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    assert "_builtin_plugins" in out and "daily_writer" in out and "voice_input" in out
    version = subprocess.run(
        [str(python), "-m", "butler_ls", "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert version.stdout.startswith("butler-ls ")
