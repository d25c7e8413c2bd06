"""What every part of the model code shares: the bundled model's name and the error that
says why a model cannot be used (models.py finds models, packaged.py assembles them)."""

from __future__ import annotations

from butler_ls.job_api import ButlerError

BUNDLED = "tiny.en"


class ModelError(ButlerError):
    """The model cannot be found or loaded; the message names the path and the fix."""
