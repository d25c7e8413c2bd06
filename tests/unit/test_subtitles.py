"""Unit tests for the transcriber plugin's subtitles.py: text, SRT, WebVTT and JSON transcripts.

Exact documents for each format, time rounding and clamping, paragraphs and bad format names.
"""

from __future__ import annotations

import json

import pytest

from butler_ls.util.errors import ButlerError
from tests.helpers import load_plugin_module

subtitles = load_plugin_module("transcriber", "subtitles")
FORMATS, Segment = subtitles.FORMATS, subtitles.Segment
normalize_format, render = subtitles.normalize_format, subtitles.render

SEGMENTS = [
    Segment(0.0, 2.5, " From fairest creatures we desire increase,"),
    Segment(2.5, 5.04, " That thereby beauty's rose might never die,"),
    Segment(8.0, 3661.2345, "  But as the riper should by time decease,  "),
]


def test_text_joins_segments_and_breaks_paragraphs_on_long_gaps() -> None:
    assert render(SEGMENTS, "text") == (
        "From fairest creatures we desire increase, "
        "That thereby beauty's rose might never die,\n\n"
        "But as the riper should by time decease,\n"
    )


def test_gap_of_exactly_two_seconds_stays_in_the_paragraph() -> None:
    segments = [Segment(0, 1, "one"), Segment(3, 4, "two"), Segment(6.001, 7, "three")]
    assert render(segments, "text") == "one two\n\nthree\n"


def test_srt() -> None:
    assert render(SEGMENTS, "srt") == (
        "1\n"
        "00:00:00,000 --> 00:00:02,500\n"
        "From fairest creatures we desire increase,\n"
        "\n"
        "2\n"
        "00:00:02,500 --> 00:00:05,040\n"
        "That thereby beauty's rose might never die,\n"
        "\n"
        "3\n"
        "00:00:08,000 --> 01:01:01,235\n"
        "But as the riper should by time decease,\n"
    )


def test_vtt() -> None:
    assert render(SEGMENTS[:2], "vtt") == (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:02.500\n"
        "From fairest creatures we desire increase,\n"
        "\n"
        "00:00:02.500 --> 00:00:05.040\n"
        "That thereby beauty's rose might never die,\n"
    )


def test_vtt_escapes_markup() -> None:
    document = render([Segment(0, 1, "a <b> & c --> d")], "vtt")
    assert document.endswith("a &lt;b&gt; &amp; c --&gt; d\n")


def test_json() -> None:
    segments = [Segment(0, 1.5, " Hola, señor."), Segment(4, 5.25, "¿Qué tal?")]
    document = render(segments, "json", language="es", duration=5.3333)
    assert document == (
        "{\n"
        '  "language": "es",\n'
        '  "duration": 5.333,\n'
        '  "text": "Hola, señor.\\n\\n¿Qué tal?",\n'
        '  "segments": [\n'
        "    {\n"
        '      "start": 0.0,\n'
        '      "end": 1.5,\n'
        '      "text": "Hola, señor."\n'
        "    },\n"
        "    {\n"
        '      "start": 4.0,\n'
        '      "end": 5.25,\n'
        '      "text": "¿Qué tal?"\n'
        "    }\n"
        "  ]\n"
        "}\n"
    )
    assert json.loads(document)["segments"][1]["text"] == "¿Qué tal?"


def test_json_without_language_or_duration() -> None:
    data = json.loads(render([], "json"))
    assert data == {"language": None, "duration": None, "text": "", "segments": []}


@pytest.mark.parametrize(
    ("fmt", "expected"), [("text", ""), ("txt", ""), ("srt", ""), ("vtt", "WEBVTT\n\n")]
)
def test_no_segments(fmt: str, expected: str) -> None:
    assert render([], fmt) == expected


def test_blank_segments_are_left_out() -> None:
    segments = [Segment(0, 1, "  "), Segment(1, 2, "hello"), Segment(2, 3, "")]
    assert render(segments, "text") == "hello\n"
    assert render(segments, "srt") == "1\n00:00:01,000 --> 00:00:02,000\nhello\n"


@pytest.mark.parametrize(
    ("seconds", "stamp"),
    [
        (0, "00:00:00,000"),
        (0.0004, "00:00:00,000"),
        (0.0005, "00:00:00,001"),
        (1.2345678, "00:00:01,235"),
        (59.9996, "00:01:00,000"),
        (3599.9996, "01:00:00,000"),
        (3600 * 100 + 1, "100:00:01,000"),
        (-3.0, "00:00:00,000"),
        (float("nan"), "00:00:00,000"),
    ],
)
def test_timestamps_round_to_milliseconds(seconds: float, stamp: str) -> None:
    document = render([Segment(seconds, seconds, "x")], "srt")
    assert document.splitlines()[1] == f"{stamp} --> {stamp}"
    vtt = render([Segment(seconds, seconds, "x")], "vtt")
    assert vtt.splitlines()[2] == f"{stamp} --> {stamp}".replace(",", ".")


def test_end_before_start_is_clamped() -> None:
    document = render([Segment(5.0, 4.0, "backwards"), Segment(-1, -0.5, "early")], "srt")
    assert "00:00:05,000 --> 00:00:05,000" in document
    assert "00:00:00,000 --> 00:00:00,000" in document
    data = json.loads(render([Segment(5.0, 4.0, "backwards")], "json"))
    assert data["segments"] == [{"start": 5.0, "end": 5.0, "text": "backwards"}]


def test_lines_inside_a_cue_never_leave_a_blank_line() -> None:
    document = render([Segment(0, 1, "first line\n\n  second   line ")], "srt")
    assert document == "1\n00:00:00,000 --> 00:00:01,000\nfirst line\nsecond line\n"
    assert render([Segment(0, 1, "first line\n\nsecond")], "text") == "first line second\n"


@pytest.mark.parametrize(
    ("name", "canonical"),
    [("text", "text"), ("txt", "text"), ("TXT", "text"), (" SRT ", "srt"), (".vtt", "vtt")],
)
def test_normalize_format(name: str, canonical: str) -> None:
    assert normalize_format(name) == canonical


def test_every_format_is_known() -> None:
    assert FORMATS == ("text", "srt", "vtt", "json")
    assert all(normalize_format(fmt) == fmt for fmt in FORMATS)


def test_unknown_format_lists_the_formats() -> None:
    with pytest.raises(ButlerError, match=r"unknown transcript format 'docx'; use one of: text, "):
        normalize_format("docx")
    with pytest.raises(ButlerError, match="text, srt, vtt, json"):
        render(SEGMENTS, "pdf")
