"""CSV cells a spreadsheet shows as text, never runs as formulas."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from app.reports.csvstream import cell, keyset, lines


@pytest.mark.parametrize("value", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("x")'])
def test_a_text_that_a_spreadsheet_would_evaluate_gets_a_leading_apostrophe(value: str) -> None:
    assert cell(value) == "'" + value


@pytest.mark.parametrize(
    "value, text",
    [
        (None, ""),
        (True, "true"),
        (-3, "-3"),
        (-0.5, "-0.5"),
        ("web-1", "web-1"),
        ({"b": "=x", "a": 1}, '{"a": 1, "b": "=x"}'),
        (["-x"], '["-x"]'),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "2026-01-02T03:04:05.000000+00:00"),
    ],
)
def test_other_values_keep_their_meaning(value: object, text: str) -> None:
    assert cell(value) == text


def test_lines_quote_like_rfc_4180_and_page_through_keyset() -> None:
    rows = list(range(10, 0, -1))
    pages: list[tuple[int | None, int]] = []

    def fetch(cursor: int | None, limit: int) -> list[dict[str, int]]:
        pages.append((cursor, limit))
        return [{"id": i} for i in rows if cursor is None or i < cursor][:limit]

    got = [r["id"] for r in keyset(fetch, max_rows=7, page_rows=3)]
    assert got == [10, 9, 8, 7, 6, 5, 4] and pages == [(None, 3), (8, 3), (5, 1)]
    text = "".join(lines(["a", "b"], [["x,y", 'say "hi"'], ["=1", None]]))
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], ["x,y", 'say "hi"'], ["'=1", ""]]
