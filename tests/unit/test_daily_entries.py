"""daily_writer entries: formatting an entry, checking a section, and where an entry goes.

The plugin folder is imported as ``butler_plugins.daily_writer``, as Butler loads it.
"""

from __future__ import annotations

import datetime as dt
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from butler_ls.util.errors import ButlerError, InvalidArguments
from tests.helpers import load_plugin_module


def _load(name: str) -> types.ModuleType:
    return load_plugin_module("daily_writer", name)


entries = _load("entries")
template = _load("template")

WHEN = dt.datetime(2026, 1, 5, 9, 7)
DEFAULT_FORMAT = "- {time:%H:%M} {text}"


def _append(note: str, section: str, *new: str) -> str:
    return entries.apply_insertion(note, entries.plan_insert(note, section, list(new)))


# format_entry


def test_format_entry_with_the_default_format():
    assert entries.format_entry(DEFAULT_FORMAT, "  called Ann \n", WHEN) == "- 09:07 called Ann"


def test_a_multi_line_entry_stays_one_list_item():
    text = "first line\r\n   second line  \n\nthird\rfourth\n"
    assert entries.format_entry(DEFAULT_FORMAT, text, WHEN) == (
        "- 09:07 first line\n  second line\n\n  third\n  fourth"
    )


def test_other_formats_and_braces_in_the_text():
    assert entries.format_entry("* {text} ({time:%Y-%m-%d})", "a {b}", WHEN) == (
        "* a {b} (2026-01-05)"
    )
    assert entries.format_entry("- {text}", "x", WHEN) == "- x"


@pytest.mark.parametrize("text", ["", "   ", "\n\r\n\t"])
def test_an_empty_entry_is_refused(text):
    with pytest.raises(InvalidArguments) as caught:
        entries.format_entry(DEFAULT_FORMAT, text, WHEN)
    assert str(caught.value) == "text: the entry is empty; give some text to append"
    assert caught.value.field == "text"


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("- {when} {text}", "unknown field {when}"),
        ("- {} {text}", "positional fields"),
        ("- {0} {text}", "positional fields"),
        ("- {time:%H:%M {text}", "notes.entryFormat"),
        ("- {text!z}", "notes.entryFormat"),
        ("- }{text}", "notes.entryFormat"),
        ("- {text:%H}", "notes.entryFormat"),
        ("- {time.hours} {text}", "notes.entryFormat"),
        ("- {time[0]} {text}", "notes.entryFormat"),
    ],
)
def test_a_broken_entry_format_names_the_setting_and_the_default(pattern, problem):
    with pytest.raises(ButlerError) as caught:
        entries.format_entry(pattern, "x", WHEN)
    message = str(caught.value)
    assert not isinstance(caught.value, InvalidArguments)
    assert message.startswith(f"notes.entryFormat {pattern!r} does not work: ")
    assert problem in message
    assert repr(DEFAULT_FORMAT) in message


def test_an_entry_that_is_not_text_is_refused():
    with pytest.raises(InvalidArguments, match="not text") as caught:
        entries.format_entry(DEFAULT_FORMAT, None, WHEN)
    assert caught.value.field == "text"


# check_section


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (None, "Log"),
        ("", "Log"),
        ("   ", "Log"),
        ("##", "Log"),
        ("Log", "Log"),
        ("  ## Ideas ", "Ideas"),
        ("#Work", "Work"),
        ("C#", "C#"),
        ("Notes/ideas", "Notes/ideas"),
        ("What... now", "What... now"),
        ("x" * 200, "x" * 200),
    ],
)
def test_check_section(section, expected):
    assert entries.check_section(section) == expected


@pytest.mark.parametrize(
    "section",
    [
        "../notes",
        "a/../b",
        "..\\x",
        "/etc/passwd",
        "\\server\\share",
        "C:\\notes",
        "c:/notes",
        "..",
        "x/..",
    ],
)
def test_a_path_is_not_a_section(section):
    with pytest.raises(InvalidArguments, match="a section is a heading inside the note") as caught:
        entries.check_section(section)
    assert caught.value.field == "section"


@pytest.mark.parametrize("section", ["Log\nmore", "a\rb", "x" * 201, 3])
def test_a_section_that_is_no_heading_is_refused(section):
    with pytest.raises(InvalidArguments) as caught:
        entries.check_section(section)
    assert caught.value.field == "section"


# plan_insert: literal before and after


def test_the_default_template_note_gets_its_first_and_second_entry():
    note = template.render(
        template.DEFAULT_TEMPLATE, date=WHEN.date(), previous=None, next_name="2026-01-06", tasks=[]
    )
    once = _append(note, "Log", "- 09:07 first")
    assert once == "# 2026-01-05 Monday\n\n[[2026-01-06]] →\n\n## Log\n- 09:07 first\n"
    assert _append(once, "log", "- 09:08 second") == once + "- 09:08 second\n"


def test_a_section_in_the_middle_keeps_its_blank_lines_before_the_next_heading():
    note = "# Day\n\n## Log\n\n- 08:00 a\n- 08:30 b\n\n\n## Tasks\n- [ ] c\n"
    insertion = entries.plan_insert(note, "Log", ["- 09:00 d", "- 09:01 e"])
    assert insertion == entries.Insertion(
        note.index("\n\n\n## Tasks") + 1, "- 09:00 d\n- 09:01 e\n"
    )
    assert entries.apply_insertion(note, insertion) == (
        "# Day\n\n## Log\n\n- 08:00 a\n- 08:30 b\n- 09:00 d\n- 09:01 e\n\n\n## Tasks\n- [ ] c\n"
    )


def test_an_empty_section_gets_the_entry_right_under_its_heading():
    note = "## Log\n\n\n## Tasks\n"
    assert _append(note, "Log", "- a") == "## Log\n- a\n\n\n## Tasks\n"


def test_the_heading_matches_case_and_spacing_and_closing_hashes():
    note = "# Day\n###   LOG  ##\ntext\n# Other\n"
    assert _append(note, " log", "- a") == "# Day\n###   LOG  ##\ntext\n- a\n# Other\n"


def test_the_first_matching_heading_wins():
    note = "## Log\n- a\n## Log\n- b\n"
    assert _append(note, "Log", "- c") == "## Log\n- a\n- c\n## Log\n- b\n"


def test_a_subsection_belongs_to_its_section():
    # The section ends at the next heading of its level or higher, so a ### inside it is
    # part of it: the entry goes after the subsection's last line, not before the ###.
    note = "## Log\n- a\n\n### Morning\n- b\n\n## Tasks\n"
    assert _append(note, "Log", "- c") == "## Log\n- a\n\n### Morning\n- b\n- c\n\n## Tasks\n"


def test_a_deeper_section_ends_at_a_higher_heading():
    note = "# Day\n### Log\n- a\n## Later\n- b\n"
    assert _append(note, "Log", "- c") == "# Day\n### Log\n- a\n- c\n## Later\n- b\n"


def test_the_last_line_without_newline():
    assert _append("## Log\n- a", "Log", "- b") == "## Log\n- a\n- b\n"
    assert _append("## Log", "Log", "- b") == "## Log\n- b\n"


def test_multi_line_entries_keep_their_lines():
    note = "## Log\n- a\n"
    assert _append(note, "Log", "- b\n  more", "- c") == "## Log\n- a\n- b\n  more\n- c\n"


def test_headings_inside_code_fences_are_not_sections():
    note = "```\n## Log\n```\n\n## Log\n- a\n~~~\n# not a heading\n~~~\n\n# End\n"
    assert _append(note, "Log", "- b") == (
        "```\n## Log\n```\n\n## Log\n- a\n~~~\n# not a heading\n~~~\n- b\n\n# End\n"
    )


def test_a_section_running_into_an_unclosed_fence_gets_it_closed():
    assert _append("## Log\n```\ncode\n", "Log", "- a") == "## Log\n```\ncode\n```\n- a\n"


@pytest.mark.parametrize(
    "line", ["#Log", "####### Log", "  ## Log", "Log", "## Logbook", "## Log:"]
)
def test_lines_that_are_not_the_heading(line):
    assert _append(f"{line}\n", "Log", "- a") == f"{line}\n\n## Log\n- a\n"


# plan_insert: the section is missing


def test_missing_section_in_an_empty_note():
    assert _append("", "Log", "- a") == "## Log\n- a\n"


def test_missing_section_in_a_note_without_trailing_newline():
    assert _append("# Day", "Ideas", "- a") == "# Day\n\n## Ideas\n- a\n"


def test_missing_section_in_a_note_ending_with_a_newline():
    assert _append("# Day\n", "Log", "- a") == "# Day\n\n## Log\n- a\n"


def test_missing_section_in_a_note_ending_with_a_blank_line():
    assert _append("# Day\n\n", "Log", "- a") == "# Day\n\n## Log\n- a\n"
    assert _append("# Day\n  ", "Log", "- a") == "# Day\n  \n## Log\n- a\n"
    assert _append("\n", "Log", "- a") == "\n## Log\n- a\n"


def test_missing_section_uses_the_checked_name():
    assert _append("", "  ## Ideas ", "- a") == "## Ideas\n- a\n"


def test_missing_section_after_an_unclosed_fence():
    assert _append("```\ncode", "Log", "- a") == "```\ncode\n```\n\n## Log\n- a\n"


def test_no_entries_is_no_change():
    assert entries.plan_insert("# Day\n", "Log", []) == entries.Insertion(6, "")


# plan_insert: CRLF notes


def test_crlf_notes_keep_crlf():
    note = "# Day\r\n\r\n## Log\r\n- a\r\n\r\n## Tasks\r\n"
    assert _append(note, "Log", "- b\n  more") == (
        "# Day\r\n\r\n## Log\r\n- a\r\n- b\r\n  more\r\n\r\n## Tasks\r\n"
    )


def test_crlf_note_without_the_section():
    assert _append("# Day\r\n", "Log", "- a") == "# Day\r\n\r\n## Log\r\n- a\r\n"
    assert _append("# Day\r\nx", "Log", "- a") == "# Day\r\nx\r\n\r\n## Log\r\n- a\r\n"


def test_offsets_are_python_string_indexes():
    note = "# 日記 🌅\n## Log\n- a\n"
    insertion = entries.plan_insert(note, "Log", ["- b"])
    assert insertion.offset == len(note)


def test_apply_insertion_refuses_an_offset_outside_the_note():
    with pytest.raises(ValueError):
        entries.apply_insertion("abc", entries.Insertion(4, "x"))


# contains_entries


def test_contains_entries_after_an_append():
    note = _append("# Day\n## Log\n- a\n## Tasks\n- b\n", "Log", "- c\n  more")
    assert entries.contains_entries(note, "Log", ["- c\n  more"])
    assert entries.contains_entries(note, "log", ["- a", "- c\n  more"])
    assert not entries.contains_entries(note, "Log", ["- b"])
    assert not entries.contains_entries(note, "Log", ["- c\n  other"])
    assert not entries.contains_entries(note, "Ideas", ["- a"])


def test_contains_entries_ignores_trailing_spaces_and_crlf():
    assert entries.contains_entries("## Log\r\n- a   \r\n", "Log", ["- a"])


def test_contains_entries_needs_the_lines_together():
    assert not entries.contains_entries("## Log\n- b\nx\n  more\n", "Log", ["- b\n  more"])


def test_contains_entries_ignores_code_fences():
    assert not entries.contains_entries("```\n## Log\n- a\n```\n", "Log", ["- a"])


# Properties


_LINES = st.sampled_from(
    [
        "",
        "  ",
        "text",
        "- item",
        "- [ ] task",
        "# Top",
        "## Log",
        "### log ##",
        "## Other",
        "### Sub",
        "# Log",
        "```",
        "~~~",
        "````",
        "  ```py",
        "#Log",
    ]
)


@st.composite
def _notes(draw):
    lines = draw(st.lists(_LINES, max_size=14))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    note = newline.join(lines)
    if lines and draw(st.booleans()):
        note += newline
    return note


_SECTIONS = st.sampled_from(["Log", "log", "Other", "Sub", "Top", "New one"])
_ENTRY = st.sampled_from(["- 09:00 a", "- 09:01 b\n  more", "- 09:02 c"])


def _lines_of(text: str) -> list[str]:
    return [line.removesuffix("\r") for line in text.split("\n")]


@given(_notes(), _SECTIONS, st.lists(_ENTRY, min_size=1, max_size=3))
def test_inserting_keeps_every_line_and_files_the_entries(note, section, new):
    insertion = entries.plan_insert(note, section, new)
    result = entries.apply_insertion(note, insertion)
    # The insertion is made at a line boundary and ends with a line break.
    assert insertion.offset in (0, len(note)) or note[insertion.offset - 1] == "\n"
    assert insertion.text.endswith("\n")
    # Every original line is still there, whole and in order.
    old = [line for line in _lines_of(note) if line]
    remaining = iter(_lines_of(result))
    assert all(any(line == other for other in remaining) for line in old)
    # The note's newline style is kept.
    if "\r\n" in note:
        assert "\n" not in result.replace("\r\n", "")
    assert entries.contains_entries(result, section, new)
    assert not entries.contains_entries(note, section, new) or entries.contains_entries(
        result, section, new
    )


@given(_notes(), _SECTIONS)
def test_inserting_twice_keeps_the_order(note, section):
    first = _append(note, section, "- 09:00 first")
    second = _append(first, section, "- 09:05 second")
    lines = _lines_of(second)
    assert lines.index("- 09:05 second") == lines.index("- 09:00 first") + 1
    assert entries.contains_entries(second, section, ["- 09:00 first", "- 09:05 second"])
