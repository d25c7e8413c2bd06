"""The example's ``butler-ls doctor`` check: the counter counts a sample sentence as its
settings say (``doctor:`` in plugin.yaml points here). Butler has already checked the
settings against WordCountSettings; a bad value is named by the doctor's config check.
"""

from __future__ import annotations

from butler_ls.plugin_api import Check, DoctorContext

from .plugin import WordCounter

SAMPLE = "Meet Ada at 10 for tea"


def checks(ctx: DoctorContext) -> list[Check]:
    """One check named after the plugin; a doctor function may return several."""
    settings = ctx.plugin_settings
    words = WordCounter(settings).count(SAMPLE)
    data = {
        "countNumbers": settings.count_numbers,
        "minLength": settings.min_length,
        "sampleWords": words,
    }
    numbers = "with" if settings.count_numbers else "without"
    detail = f"counts {words} words in {SAMPLE!r} ({numbers} numbers)"
    return [Check("word_count", "ok", detail, data=data)]
