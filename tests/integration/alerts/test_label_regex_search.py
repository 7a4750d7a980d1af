"""A regex label filter is resolved against the label's stored values, then looked up by
index; it must page through exactly the alerts the regex run on every alert finds."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.alerts import service
from app.alerts.models import Alert, AlertLabel
from app.db import Database
from config.matchers import Matcher

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
N = 600


def labels_of(i: int) -> dict[str, str]:
    found = {"instance": f"web-{i % 200}", "team": ("db", "web", "platform")[i % 3]}
    if i % 7 == 0:
        del found["instance"]  # some alerts lack the label: "" for every matcher
    return found


@pytest.fixture
def seeded(database: Database) -> Database:
    # Stored as alerts.service stores a new alert (its row, then its label rows), in bulk.
    with database.write() as s:
        rows = [
            Alert(
                fingerprint=f"f{i}",
                detector="many",
                source="detector",
                labels=labels_of(i),
                severity="warning",
                state="firing",
                kind="threshold",
                started_at=T0,
                last_seen_at=T0,
            )
            for i in range(N)
        ]
        s.add_all(rows)
        s.flush()
        s.add_all(AlertLabel(alert_id=a.id, name=k, value=v) for a in rows for k, v in a.labels.items())
    return database


def every_page(database: Database, matchers: tuple[tuple[str, str, str], ...], *, as_json: bool) -> list[int]:
    """All matching ids, newest first, ten to a page (so cursors are used)."""
    ids: list[int] = []
    cursor = None
    while True:
        query = service.AlertQuery(matchers=matchers, cursor=cursor, limit=10)
        if as_json:
            with database.read_connection() as conn:
                items, cursor = service.search_json(conn, query)
            ids += [int(item.split(",", 1)[0].removeprefix('{"id":')) for item in items]
        else:
            with database.read() as s:
                rows = service.search(s, query)
            ids += [a.id for a in rows[:10]]
            cursor = rows[9].id if len(rows) > 10 else None
        if cursor is None:
            return ids


def expected(database: Database, matchers: tuple[tuple[str, str, str], ...]) -> list[int]:
    with database.read() as s:
        every = service.search(s, service.AlertQuery(limit=10 * N))
    wanted = [Matcher(*m) for m in matchers]
    return [a.id for a in every if all(m.matches(a.labels) for m in wanted)]


CASES = [
    (("instance", "=~", "web-42"),),  # 1 in 200
    (("instance", "=~", "web-4[23]|nope"),),
    (("instance", "=~", "nope.*"),),  # matches nothing
    (("instance", "=~", "|web-1"),),  # matches "": alerts without the label too
    (("instance", "!~", "web-.*"),),  # only alerts without the label
    (("instance", "!~", "web-1.*"),),
    (("instance", "=~", "web-1.*"), ("team", "=", "db")),
    (("instance", "=~", "web-1.*"), ("team", "!~", "db|web")),
]


@pytest.mark.parametrize("matchers", CASES, ids=[" ".join("".join(m) for m in c) for c in CASES])
def test_a_resolved_regex_pages_through_the_same_alerts_as_the_regex_run_per_alert(
    seeded: Database, monkeypatch: pytest.MonkeyPatch, matchers: tuple[tuple[str, str, str], ...]
) -> None:
    monkeypatch.setattr(service, "NEWEST_SCAN", 50)  # the recent phase and the index phase both answer
    want = expected(seeded, matchers)
    assert every_page(seeded, matchers, as_json=True) == want
    assert every_page(seeded, matchers, as_json=False) == want
    monkeypatch.setattr(service, "MAX_LABEL_VALUES", 0)  # as before: the regex runs on each alert
    assert every_page(seeded, matchers, as_json=True) == want


def test_a_regex_matching_too_many_values_runs_per_alert(seeded: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "MAX_RESOLVED_VALUES", 10)
    with seeded.read_connection() as conn:
        wide = service._label_filters(conn, service.AlertQuery(matchers=(("instance", "=~", "web-1.*"),)))
        narrow = service._label_filters(conn, service.AlertQuery(matchers=(("instance", "=~", "web-4[23]"),)))
    assert (wide[0].op, narrow[0].op) == ("=~", "in")
    assert narrow[0].value == '["web-42", "web-43"]'
    assert every_page(seeded, (("instance", "=~", "web-1.*"),), as_json=True) == expected(
        seeded, (("instance", "=~", "web-1.*"),)
    )


def test_a_label_on_no_alert_resolves_to_nothing(seeded: Database) -> None:
    assert every_page(seeded, (("nosuch", "=~", "a.*"),), as_json=True) == []
    assert len(every_page(seeded, (("nosuch", "!~", "a.*"),), as_json=True)) == N
