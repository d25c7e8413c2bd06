"""This plugin's settings: ``model.*`` (the model the worker loads) and ``transcriber.*``."""

from __future__ import annotations

from typing import Literal

import attrs

from butler_ls.job_api import between, setting

from .languages import check_language


@attrs.frozen
class ModelSettings:
    """``model.*``: the speech-to-text model the worker loads."""

    name: str = "tiny.en"
    """The bundled ``tiny.en``; ``base`` (multilingual, from the ``butler-ls[multilingual]``
    extra, assembled and verified once); a CTranslate2 Whisper folder; or a locally cached
    model name."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where the model runs; ``auto`` picks CUDA when present, else the CPU."""

    compute_type: str = "auto"
    """CTranslate2 compute type; ``auto`` is int8 on CPU and float16 on CUDA."""

    language: str | None = setting(None, check=check_language)
    """``auto`` (detected per utterance, kept by a dictation session unless another is heard
    surely) or one of Whisper's codes (``en``, ``fr``...); unset is ``auto``, and English for
    ``.en`` models whatever it says."""

    vocabulary: list[str] = attrs.field(factory=list)
    """Words to favour: names, jargon, identifiers."""

    window: Literal["fit", "full"] = "fit"
    """How much audio the encoder reads for a short piece (an utterance): ``fit`` its length
    plus a second (model time ÷2.5 with tiny.en, ÷3.5 with base; a piece the model then
    decodes in a loop is done again in full); ``full`` 30 s, as Whisper was trained."""


@attrs.frozen
class TranscriberSettings:
    """``transcriber.*``."""

    max_file_mb: float = setting(500, check=between(0.001, 1_000_000))
    """With the redis queue, larger audio files are refused (they travel through Redis)."""
