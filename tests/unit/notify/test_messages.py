"""Plain helpers that phrase a notification the same way for every service."""

from __future__ import annotations

import time

import pytest

from app.notify.messages import (
    clean_output,
    colour_of,
    duration,
    evidence,
    severity_colour,
    severity_emoji,
    tail,
    truncate,
)
from tests.unit.notify.notify_builders import alert, notification


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_truncate_leaves_short_text_alone():
    assert truncate("hello", 5) == "hello"


def test_truncate_cuts_and_marks_the_cut():
    assert truncate("hello world", 8) == "hello w…"


def test_truncate_never_splits_an_emoji():
    cut = truncate("ab😀😀cd", 4)
    assert cut == "ab…"
    cut.encode("utf-8")  # a lone surrogate would raise here


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 100, 4095])
def test_truncate_fits_the_limit_counted_as_javascript_counts(limit):
    text = "é😀x" * 3000
    assert utf16_len(truncate(text, limit)) <= limit


def test_truncate_is_quick_on_megabytes():
    text = "x" * 50_000_000
    started = time.perf_counter()
    truncate(text, 3000)
    tail(text, 3000)
    assert time.perf_counter() - started < 0.5


def test_truncate_refuses_a_limit_below_one():
    with pytest.raises(ValueError, match="at least 1, got 0"):
        truncate("x", 0)


def test_tail_keeps_the_end():
    assert tail("first line\nsecond\nerror: boom", 12) == "…error: boom"
    assert tail("short", 10) == "short"


def test_clean_output_strips_terminal_colours_and_controls():
    assert clean_output("\x1b[31mred\x1b[0m\r\nnext\x00\x07\tend") == "red\nnext\tend"


def test_severities_have_colours_and_emoji():
    assert severity_colour("critical") == "#D32F2F"
    assert severity_emoji("warning") == "🟠"
    assert severity_colour("whatever") == severity_colour("info")


def test_good_news_is_green_whatever_the_severity():
    assert colour_of(notification(event="alert.resolved")) == "#2E7D32"
    assert colour_of(notification(event="alert.firing")) == "#D32F2F"


def test_evidence_shows_value_against_threshold():
    assert evidence(alert(value=0.9342, threshold=0.8)) == "value 0.9342 vs threshold 0.8"


def test_evidence_shows_the_level_change_at_a_change_point():
    item = alert(
        value=None, threshold=None, before=0.12, after=0.87, change_points=["12:03", "12:30", "13:00", "14:00"]
    )
    assert evidence(item) == "level 0.12 → 0.87; change point at 12:03, 12:30, 13:00 (+1 more)"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.25, "250ms"), (12.34, "12.3s"), (245, "4m 05s"), (7380, "2h 03m"), (273600, "3d 4h")]
)
def test_durations_read_naturally(seconds, text):
    assert duration(seconds) == text
