"""The example's settings: the ``word_count`` section, typed and checked by Butler.

Named in plugin.yaml under ``schema:``. Each field's type is checked first, then its
``check``; a bad value gives a warning naming ``butler.word_count.<key>`` and the default.
"""

from __future__ import annotations

import attrs

from butler_ls.job_api import between, setting


@attrs.frozen
class WordCountSettings:
    """``word_count.*`` (camelCase on the wire: ``countNumbers``, ``minLength``)."""

    count_numbers: bool = True
    """Whether numbers such as 42 count as words."""

    min_length: int = setting(1, check=between(1, 100))
    """Words shorter than this many characters are not counted."""
