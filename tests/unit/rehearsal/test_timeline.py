"""The binding page's timeline: decisions counted per action or skip guard and per time slot."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.rehearsal.replay import Rehearsed
from app.rehearsal.timeline import timeline

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _d(minute: float, action: str, reason: str) -> Rehearsed:
    return Rehearsed(1, T0 + timedelta(minutes=minute), "fp", action, reason)


def test_it_counts_runs_and_each_skip_reason_in_equal_slots_runs_first() -> None:
    decisions = [
        _d(0, "skip", "skipped: rate limit (3 runs in the last 3600s, limit 3)"),
        _d(1, "run", "run: all checks passed"),
        _d(2, "run", "run: all checks passed"),
        _d(59, "skip", "skipped: cooldown (last run 10s ago, cooldown 300s)"),
        _d(59.9, "skip", "skipped: rate limit (3 runs in the last 3600s, limit 3)"),
    ]
    shown = timeline(decisions, since=T0, until=T0 + timedelta(hours=1), bins=60)
    assert [(r["key"], r["total"], r["skip"]) for r in shown["rows"]] == [
        ("run", 2, False),
        ("cooldown", 1, True),
        ("rate_limit", 2, True),
    ]
    run = shown["rows"][0]
    assert [(m["i"], m["n"], m["level"]) for m in run["marks"]] == [(1, 1, 4), (2, 1, 4)]
    assert run["marks"][0]["start"] == T0 + timedelta(minutes=1) and run["label"] == "would run"
    assert [m["i"] for m in shown["rows"][2]["marks"]] == [0, 59]
    assert shown["ticks"][0]["at"] == T0 and shown["ticks"][-1]["at"] == T0 + timedelta(hours=1)


def test_a_busy_slot_is_darkest_and_a_decision_at_until_falls_in_the_last_slot() -> None:
    decisions = [_d(0, "shadow", "shadow: would run (all checks passed)")] * 8 + [
        _d(30, "shadow", "shadow: would run (all checks passed)"),
        _d(60, "shadow", "shadow: x"),
    ]
    [row] = timeline(decisions, since=T0, until=T0 + timedelta(hours=1), bins=4)["rows"]
    assert [(m["i"], m["n"], m["level"]) for m in row["marks"]] == [(0, 8, 4), (2, 1, 1), (3, 1, 1)]
    assert row["label"] == "shadow: would run" and row["busiest"] == 8
