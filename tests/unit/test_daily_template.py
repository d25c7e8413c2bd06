"""daily_writer template: placeholders, carried-over tasks, link names, the previous note,
and notes made from the built-in template when notes.template cannot be read.

The plugin folder is imported as ``butler_plugins.daily_writer``, as Butler loads it.
"""

from __future__ import annotations

import datetime as dt
import types
from pathlib import Path

import pytest

from butler_ls.util.config import Settings
from butler_ls.util.errors import ButlerError
from tests.helpers import load_plugin_module


def _load(name: str) -> types.ModuleType:
    return load_plugin_module("daily_writer", name)


template = _load("template")

MONDAY = dt.date(2026, 1, 5)


def _render(text, *, previous="2026-01-04", next_name="2026-01-06", tasks=()):
    return template.render(
        text, date=MONDAY, previous=previous, next_name=next_name, tasks=list(tasks)
    )


def test_the_default_template_makes_a_linked_note_with_a_log():
    assert _render(template.DEFAULT_TEMPLATE) == (
        "# 2026-01-05 Monday\n\n← [[2026-01-04]] · [[2026-01-06]] →\n\n## Log\n"
    )


def test_the_first_note_has_no_previous_link():
    assert _render(template.DEFAULT_TEMPLATE, previous=None) == (
        "# 2026-01-05 Monday\n\n[[2026-01-06]] →\n\n## Log\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{date}}", "2026-01-05"),
        ("{{ date }}", "2026-01-05"),
        ("{{date:%A %d %B %Y}}", "Monday 05 January 2026"),
        ("{{ date: %d.%m.%y }}", "05.01.26"),
        ("{{date:}}", "2026-01-05"),
        ("{{weekday}}", "Monday"),
        ("{{previous}}", "[[2026-01-04]]"),
        ("{{next}}", "[[2026-01-06]]"),
        ("{{\tnext\t}}", "[[2026-01-06]]"),
    ],
)
def test_each_placeholder(text, expected):
    assert _render(text) == expected


def test_weekday_is_english_for_every_day():
    week = [MONDAY + dt.timedelta(days=n) for n in range(7)]
    names = [
        template.render("{{weekday}}", date=day, previous=None, next_name="x", tasks=[])
        for day in week
    ]
    assert names == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@pytest.mark.parametrize(
    "text",
    [
        "{{title}}",
        "{{ Date }}",
        "{{weekday:%A}}",
        "{{previous:x}}",
        "{{date-1}}",
        "{{}}",
        "{{ }}",
    ],
)
def test_unknown_placeholders_are_left_as_they_are(text):
    assert _render(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{ {{date}} }", "{ 2026-01-05 }"),
        ("{{date", "{{date"),
        ("{{ {{date}}", "{{ 2026-01-05"),
        ("}} {{date}} {{", "}} 2026-01-05 {{"),
        ("{{{date}}}", "{2026-01-05}"),
        ("{{date:%Y\n}}", "{{date:%Y\n}}"),
        ("a { b } {c} {{d", "a { b } {c} {{d"),
        ("{{date:{x}}}", "{{date:{x}}}"),
    ],
)
def test_stray_braces_do_not_break_rendering(text, expected):
    assert _render(text) == expected


def test_carried_tasks_fill_their_line():
    text = "# {{date}}\n\n## Tasks\n{{tasks}}\n\n## Log\n"
    assert _render(text, tasks=["- [ ] call Ann", "  - [ ] book room"]) == (
        "# 2026-01-05\n\n## Tasks\n- [ ] call Ann\n  - [ ] book room\n\n## Log\n"
    )


def test_no_tasks_leaves_the_placeholder_line_empty():
    text = "## Tasks\n{{tasks}}\n\n## Log\n"
    assert _render(text, tasks=[]) == "## Tasks\n\n\n## Log\n"


def test_a_crlf_template_gets_crlf_between_tasks():
    text = "## Tasks\r\n{{tasks}}\r\n"
    assert _render(text, tasks=["- [ ] a", "- [ ] b"]) == "## Tasks\r\n- [ ] a\r\n- [ ] b\r\n"


def test_text_brought_in_is_not_expanded_again():
    assert _render("{{tasks}}", tasks=["- [ ] write {{date}}"]) == "- [ ] write {{date}}"


def test_a_broken_strftime_pattern_is_left_as_it_is():
    # A lone surrogate makes strftime raise; the rest of the template still renders.
    assert _render("{{date:%Y\ud800}} {{date}}") == "{{date:%Y\ud800}} 2026-01-05"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("2026-01-05.md", "2026-01-05"),
        ("2026/01/2026-01-05.md", "2026/01/2026-01-05"),
        ("2026-01-05.markdown", "2026-01-05"),
        ("2026-01-05.MD", "2026-01-05"),
        ("./2026-01-05.md", "2026-01-05"),
        ("2026-01-05.txt", "2026-01-05.txt"),
        ("notes.md.md", "notes.md"),
    ],
)
def test_note_name(path, name):
    assert template.note_name(path) == name


def test_unfinished_tasks_keep_indentation_and_skip_checked_ones():
    note = (
        "# Monday\n"
        "- [ ] call Ann\n"
        "- [x] paid rent\n"
        "- [X] also done\n"
        "  - [ ] nested, still open\n"
        "\t* [ ] star with a tab\n"
        "* [x] star done\n"
        "+ [ ] plus is not a task marker here\n"
        "-[ ] no space\n"
        "- [] not a box\n"
        "- [ ]\n"
        "text - [ ] in the middle\n"
        "- [ ] last line without newline"
    )
    assert template.unfinished_tasks(note) == [
        "- [ ] call Ann",
        "  - [ ] nested, still open",
        "\t* [ ] star with a tab",
        "- [ ] last line without newline",
    ]


def test_unfinished_tasks_skip_code_fences():
    note = (
        "- [ ] before\n"
        "```markdown\n"
        "- [ ] example in code\n"
        "```\n"
        "~~~~\n"
        "- [ ] tilde code\n"
        "~~~\n"
        "- [ ] still code: the closing fence was too short\n"
        "~~~~~\n"
        "  ```\n"
        "  - [ ] indented fence in a list item\n"
        "  ```\n"
        "``` inline ``` is not a fence\n"
        "- [ ] after\n"
        "```\n"
        "- [ ] unclosed fence runs to the end\n"
    )
    assert template.unfinished_tasks(note) == ["- [ ] before", "- [ ] after"]


def test_unfinished_tasks_of_a_crlf_note_have_no_carriage_return():
    assert template.unfinished_tasks("- [ ] a\r\n- [x] b\r\n- [ ] c\r\n") == ["- [ ] a", "- [ ] c"]


def test_no_tasks_in_an_empty_note():
    assert template.unfinished_tasks("") == []


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("2026-01-05.md", "%Y-%m-%d.md", MONDAY),
        ("2026-01-05.markdown", "%Y-%m-%d.md", None),
        ("notes.md", "%Y-%m-%d.md", None),
        ("2026-02-30.md", "%Y-%m-%d.md", None),
        ("2026/01/05.md", "%Y/%m/%d.md", MONDAY),
        ("2026/01/2026-01-05.md", "%Y/%m/%Y-%m-%d.md", MONDAY),
        ("2026/02/2026-01-05.md", "%Y/%m/%Y-%m-%d.md", None),
        ("2026/01/x/2026-01-05.md", "%Y/%m/%Y-%m-%d.md", None),
        ("2026-01-05.md", "%Y-%m-%d.md%", None),
        ("2026-01-05.md", "", None),
    ],
)
def test_date_of(path, pattern, expected):
    assert template.date_of(path, pattern) == expected


def test_find_previous_skips_gaps_and_later_notes():
    paths = ["2026-01-07.md", "2025-12-30.md", "2026-01-02.md", "README.md", "2026-01-05.md"]
    assert template.find_previous(paths, "%Y-%m-%d.md", dt.date(2026, 1, 5)) == "2026-01-02.md"
    assert template.find_previous(paths, "%Y-%m-%d.md", dt.date(2026, 1, 6)) == "2026-01-05.md"
    assert template.find_previous(paths, "%Y-%m-%d.md", dt.date(2030, 1, 1)) == "2026-01-07.md"
    assert template.find_previous(paths, "%Y-%m-%d.md", dt.date(2025, 12, 30)) is None


def test_find_previous_with_year_and_month_folders():
    pattern = "%Y/%m/%Y-%m-%d.md"
    paths = iter(["2025/12/2025-12-31.md", "2026/01/2026-01-09.md", "2026/01/notes.md"])
    assert template.find_previous(paths, pattern, dt.date(2026, 1, 5)) == "2025/12/2025-12-31.md"


def test_find_previous_prefers_the_name_butler_writes():
    paths = ["2026-1-2.md", "2026-01-02.md", "2026-01-2.md"]
    assert template.find_previous(paths, "%Y-%m-%d.md", MONDAY) == "2026-01-02.md"


def test_find_previous_with_no_notes():
    assert template.find_previous([], "%Y-%m-%d.md", MONDAY) is None


# -- notes.template that cannot be read ----------------------------------------------

plugin = _load("plugin")
NotesSettings = _load("settings").NotesSettings


class _Context:
    """What DailyNotes reads of its plugin context, and the warnings it shows."""

    def __init__(self, notes, workspace: Path) -> None:
        self.settings = Settings(sections={"notes": notes})
        self.workspace = workspace
        self.warnings: list[str] = []

    def workspace_root(self) -> Path:
        return self.workspace

    def show_warning(self, message: str) -> None:
        self.warnings.append(message)


def _notes(tmp_path: Path, template: str | None):
    ctx = _Context(NotesSettings(directory="notes", template=template), tmp_path)
    return plugin.DailyNotes(ctx), ctx


def test_a_missing_template_still_makes_the_note_from_the_built_in_one(tmp_path: Path):
    daily, ctx = _notes(tmp_path, "~/no/such/template.md")
    path, created = daily.ensure_note(MONDAY)
    assert created and path.read_text(encoding="utf-8").startswith("# 2026-01-05 Monday\n")
    assert "## Log" in path.read_text(encoding="utf-8")
    daily.report_template_problem()
    [warning] = ctx.warnings
    assert str(Path("~/no/such/template.md").expanduser()) in warning
    assert "built-in template" in warning and "create it or remove notes.template" in warning


def test_the_missing_template_is_reported_once_per_run(tmp_path: Path):
    daily, ctx = _notes(tmp_path, "tpl.md")
    for day in range(3):
        daily.ensure_note(MONDAY + dt.timedelta(days=day))
        daily.report_template_problem()
    assert len(ctx.warnings) == 1 and str(tmp_path / "tpl.md") in ctx.warnings[0]
    assert len(list((tmp_path / "notes").glob("*.md"))) == 3


def test_an_unreadable_template_falls_back_too_and_the_doctor_still_sees_it(tmp_path: Path):
    (tmp_path / "tpl.md").write_bytes(b"# \xff\xfe {{date}}\n")
    daily, ctx = _notes(tmp_path, "tpl.md")
    assert daily.template_text() == template.DEFAULT_TEMPLATE
    daily.report_template_problem()
    assert "not UTF-8" in ctx.warnings[0] and str(tmp_path / "tpl.md") in ctx.warnings[0]
    # read_template is what the doctor rates: it still names the file and the fix.
    with pytest.raises(ButlerError, match=r"create it or remove notes\.template"):
        daily.read_template()


def test_a_readable_template_is_used_and_nothing_is_reported(tmp_path: Path):
    (tmp_path / "tpl.md").write_text("Day {{date}}\n", encoding="utf-8")
    daily, ctx = _notes(tmp_path, "tpl.md")
    path, _ = daily.ensure_note(MONDAY)
    daily.report_template_problem()
    assert path.read_text(encoding="utf-8") == "Day 2026-01-05\n" and ctx.warnings == []


def test_nothing_is_reported_before_a_note_needed_the_template(tmp_path: Path):
    daily, ctx = _notes(tmp_path, "tpl.md")
    daily.report_template_problem()
    assert ctx.warnings == []
