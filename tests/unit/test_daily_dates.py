"""daily_writer dates: every form a user may type for a note's date, and the refusals.

The plugin folder is imported as ``butler_plugins.daily_writer``, as Butler loads it.
"""

from __future__ import annotations

import datetime as dt
import types

import pytest

from butler_ls.util.errors import InvalidArguments
from tests.helpers import load_plugin_module


def _load(name: str) -> types.ModuleType:
    return load_plugin_module("daily_writer", name)


dates = _load("dates")
parse_date = dates.parse_date

# A Wednesday.
TODAY = dt.date(2026, 1, 7)


@pytest.mark.parametrize("text", [None, "", "   ", "today", "TODAY", " Today\n", "0", "+0", "-0"])
def test_today(text):
    assert parse_date(text, TODAY) == TODAY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yesterday", dt.date(2026, 1, 6)),
        ("Tomorrow", dt.date(2026, 1, 8)),
        ("-1", dt.date(2026, 1, 6)),
        ("+3", dt.date(2026, 1, 10)),
        ("3", dt.date(2026, 1, 10)),
        ("-7", dt.date(2025, 12, 31)),
        ("-36600", TODAY - dt.timedelta(days=36600)),
        ("+36600", TODAY + dt.timedelta(days=36600)),
    ],
)
def test_relative_days(text, expected):
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05", dt.date(2026, 1, 5)),
        (" 1999-12-31 ", dt.date(1999, 12, 31)),
        ("2024-02-29", dt.date(2024, 2, 29)),
    ],
)
def test_iso_dates(text, expected):
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Bare weekday: the latest one, today included.
        ("wednesday", TODAY),
        ("wed", TODAY),
        ("monday", dt.date(2026, 1, 5)),
        ("Mon", dt.date(2026, 1, 5)),
        ("thursday", dt.date(2026, 1, 1)),
        ("sun", dt.date(2026, 1, 4)),
        # last: strictly before today.
        ("last wednesday", dt.date(2025, 12, 31)),
        ("last friday", dt.date(2026, 1, 2)),
        ("LAST  Tue", dt.date(2026, 1, 6)),
        # next: strictly after today.
        ("next wednesday", dt.date(2026, 1, 14)),
        ("next thursday", dt.date(2026, 1, 8)),
        ("next monday", dt.date(2026, 1, 12)),
        ("Next Tue", dt.date(2026, 1, 13)),
    ],
)
def test_weekdays(text, expected):
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "../x",
        "/etc/passwd",
        "2026/01/01",
        "tomorrow!",
        "next",
        "next week",
        "fridays",
        "fr",
        "next today",
        "26-01-01",
        "2026-1-5",
        "1 day",
        "--1",
        "+-1",
        "٣",
        "2026-01-05T10:00",
    ],
)
def test_other_text_is_refused_with_the_accepted_forms(text):
    with pytest.raises(InvalidArguments) as caught:
        parse_date(text, TODAY)
    assert caught.value.field == "date"
    assert str(caught.value) == (
        f"date: {text!r} is not a date Butler understands; use {dates.ACCEPTED_FORMS}"
    )


def test_a_non_string_is_refused():
    with pytest.raises(InvalidArguments) as caught:
        parse_date(3, TODAY)
    assert caught.value.field == "date"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2026-02-30", "2026-02-30: day is out of range for month"),
        ("2025-02-29", "2025-02-29: day is out of range for month"),
        ("2026-13-01", "2026-13-01: month must be in 1..12"),
        ("0000-01-01", "0000-01-01: year 0 is out of range"),
    ],
)
def test_impossible_dates_say_what_is_wrong(text, problem):
    with pytest.raises(InvalidArguments) as caught:
        parse_date(text, TODAY)
    assert str(caught.value) == f"date: {problem}; use {dates.ACCEPTED_FORMS}"
    assert caught.value.field == "date"


@pytest.mark.parametrize("text", ["+36601", "-99999999"])
def test_offsets_are_bounded(text):
    with pytest.raises(InvalidArguments, match="more than 36600 days") as caught:
        parse_date(text, TODAY)
    assert dates.ACCEPTED_FORMS in str(caught.value)


def test_offsets_cross_a_leap_day():
    assert parse_date("+1", dt.date(2024, 2, 28)) == dt.date(2024, 2, 29)
    assert parse_date("-1", dt.date(2024, 3, 1)) == dt.date(2024, 2, 29)
    assert parse_date("tomorrow", dt.date(2025, 2, 28)) == dt.date(2025, 3, 1)


def test_an_offset_past_the_calendar_is_a_clear_error():
    with pytest.raises(InvalidArguments, match="outside the calendar"):
        parse_date("+2", dt.date(9999, 12, 31))


@pytest.mark.parametrize("text", ["9999-12-31", "0999-12-31", "0001-01-01"])
def test_dates_without_both_neighbours_are_refused(text):
    # A note links to the day before and after: 9999-12-31 once overflowed and failed
    # the whole plugin.
    with pytest.raises(InvalidArguments, match="outside the dates notes can have"):
        parse_date(text, TODAY)


def test_a_huge_offset_is_refused_before_int_sees_it():
    with pytest.raises(InvalidArguments, match="not a date Butler understands") as caught:
        parse_date("1" * 4301, TODAY)
    assert len(str(caught.value)) < 400
