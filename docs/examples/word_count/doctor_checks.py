"""The example's ``butler-ls doctor`` check: its setting is sane, and the counter counts
a sample sentence as that setting says (``doctor:`` in plugin.yaml points here).
"""

from __future__ import annotations

from butler_ls.plugin_api import Check, DoctorContext

from .plugin import WordCounter

SAMPLE = "Meet Ada at 10 for tea"


def checks(ctx: DoctorContext) -> list[Check]:
    """One check named after the plugin; a doctor function may return several."""
    count_numbers = ctx.plugin_settings.get("countNumbers")
    data = {"countNumbers": count_numbers}
    if not isinstance(count_numbers, bool):
        fix = "set word_count.countNumbers to true or false in Butler's settings"
        detail = f"countNumbers is {count_numbers!r}, not true or false"
        return [Check("word_count", "warn", detail, fix, data)]
    words = WordCounter(count_numbers).count(SAMPLE)
    data["sampleWords"] = words
    numbers = "with" if count_numbers else "without"
    detail = f"counts {words} words in {SAMPLE!r} ({numbers} numbers)"
    return [Check("word_count", "ok", detail, data=data)]
