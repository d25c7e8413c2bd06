"""The dates a user may name for a daily note: today, -1, 2026-01-05, friday, next monday.

Pure: ``parse_date`` takes today's date as an argument, so it never reads the clock.
"""

from __future__ import annotations

import datetime as dt
import re

from butler_ls.plugin_api import InvalidArguments, shorten

ACCEPTED_FORMS = (
    "today, yesterday, tomorrow, YYYY-MM-DD, -N or +N (days from today), a weekday name "
    "such as monday (the latest one, today included), or 'next monday'"
)

MAX_OFFSET_DAYS = 36600

FIRST_DATE = dt.date(1000, 1, 1)
LAST_DATE = dt.date(9998, 12, 31)
"""Notes live between these dates: each note links to the day before and after, and a
four-digit year keeps file names sortable."""

MAX_TEXT = 40
"""Longer than any accepted form; checked before int(), which refuses 4,301 digits."""

_RELATIVE = {"today": 0, "yesterday": -1, "tomorrow": 1}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NUMBERS = {name: n for n, name in enumerate(_WEEKDAYS)} | {
    name[:3]: n for n, name in enumerate(_WEEKDAYS)
}
# [0-9] rather than \d: int() would accept Arabic-Indic digits, which no user means here.
_OFFSET = re.compile(r"[+-]?[0-9]+")
_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_WEEKDAY = re.compile(r"(?:(last|next)\s+)?([a-z]+)")


def parse_date(text: str | None, today: dt.date) -> dt.date:
    """The date that ``text`` names, counted from ``today``; None or "" is today."""
    if text is None:
        return today
    if not isinstance(text, str):
        raise _not_understood(text)
    key = text.strip().lower()
    if not key:
        return today
    if len(key) > MAX_TEXT:
        raise _not_understood(text)
    date = _parse(key, text, today)
    if not FIRST_DATE <= date <= LAST_DATE:
        raise InvalidArguments(
            f"date: {date.isoformat()} is outside the dates notes can have "
            f"({FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()})",
            field="date",
        )
    return date


def _parse(key: str, text: str, today: dt.date) -> dt.date:
    if key in _RELATIVE:
        return today + dt.timedelta(days=_RELATIVE[key])
    if _OFFSET.fullmatch(key):
        return _offset(text, today, int(key))
    if match := _ISO.fullmatch(key):
        year, month, day = (int(part) for part in match.groups())
        try:
            return dt.date(year, month, day)
        except ValueError as exc:
            raise InvalidArguments(
                f"date: {key}: {exc}; use {ACCEPTED_FORMS}", field="date"
            ) from None
    if (match := _WEEKDAY.fullmatch(key)) and match[2] in _WEEKDAY_NUMBERS:
        return _weekday(today, _WEEKDAY_NUMBERS[match[2]], match[1])
    raise _not_understood(text)


def _offset(text: str, today: dt.date, days: int) -> dt.date:
    if abs(days) > MAX_OFFSET_DAYS:
        raise InvalidArguments(
            f"date: {text!r} is more than {MAX_OFFSET_DAYS} days from today; use {ACCEPTED_FORMS}",
            field="date",
        )
    try:
        return today + dt.timedelta(days=days)
    except OverflowError:
        # Only reachable with a clock near year 1 or 9999, but the message must still be clear.
        raise InvalidArguments(
            f"date: {text!r} falls outside the calendar; use {ACCEPTED_FORMS}", field="date"
        ) from None


def _weekday(today: dt.date, weekday: int, which: str | None) -> dt.date:
    if which == "next":
        return today + dt.timedelta(days=(weekday - today.weekday()) % 7 or 7)
    back = (today.weekday() - weekday) % 7
    if which == "last" and back == 0:
        back = 7
    return today - dt.timedelta(days=back)


def _not_understood(text: object) -> InvalidArguments:
    return InvalidArguments(
        f"date: {shorten(text, quoted=True)} is not a date Butler understands; "
        f"use {ACCEPTED_FORMS}",
        field="date",
    )
