"""CSV that a spreadsheet opens safely, streamed in pages.

A cell starting with = + - @ (or a tab or carriage return, which some spreadsheets skip
before looking) is read as a formula by Excel, LibreOffice and Google Sheets: an alert
label like `=HYPERLINK(...)` could run on the reader's machine. Such cells get a leading
apostrophe (OWASP's advice), which the spreadsheet shows as text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from app.db import iso

MAX_ROWS = 100_000  # per download; narrow the filters or continue from `cursor` for more
PAGE_ROWS = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """One value as CSV text: times ISO-8601 UTC, dicts and lists as JSON, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)  # a negative number stays a number
    if isinstance(value, datetime):
        return iso(value) or ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return "'" + text if text.startswith(_FORMULA_START) else text


def lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header line, then one CSV line per row (RFC 4180 quoting, CRLF)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def keyset(
    fetch: Callable[[int | None, int], list[Any]],
    *,
    cursor: int | None = None,
    max_rows: int | None = None,
    page_rows: int | None = None,
) -> Iterator[Any]:
    """Rows newest first, page after page below the last id seen, up to max_rows.

    fetch(cursor, limit) returns up to `limit` rows (objects or dicts) with an id, newest
    first, all below cursor; each page is its own short read, so a long download holds no
    transaction open.
    """
    max_rows, page_rows = max_rows or MAX_ROWS, page_rows or PAGE_ROWS
    sent = 0
    while sent < max_rows:
        limit = min(page_rows, max_rows - sent)
        rows = fetch(cursor, limit)
        yield from rows
        sent += len(rows)
        if len(rows) < limit:
            return
        last = rows[-1]
        cursor = last["id"] if isinstance(last, dict) else last.id
