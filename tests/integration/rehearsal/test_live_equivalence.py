"""A recorded live period, replayed with the binding unchanged, gives the live decisions one by one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.alerts.models import AlertEvent
from app.automation import service as automation
from app.rehearsal import service as rehearsal
from app.silences import service as silences
from config.schema import BindingConfig
from tests.integration.automation.conftest import Automation

# Fails for alerts whose labels say "bad" (the alert context arrives on stdin).
SCRIPT = '#!/bin/sh\ncase "$(cat)" in *bad*) echo broken; exit 1;; esac\necho ok\n'
STATE_OF_ACTION = {
    "run": "queued",
    "queue": "queued",
    "approve": "awaiting_approval",
    "dry_run": "dry_run",
    "skip": "skipped",
}
SPEC = {
    "name": "b",
    "remediation": "fix",
    "mode": "auto",
    "cooldown": "10m",
    "rate_limit": 3,
    "rate_window": "10m",
    "breaker_threshold": 2,
}


def _live_decisions(database: Any) -> list[tuple[int, str, str]]:
    with database.read() as session:
        events = session.scalars(
            select(AlertEvent).where(AlertEvent.kind == "remediation.decided").order_by(AlertEvent.id)
        ).all()
        return [(e.alert_id, e.details["state"], e.details["reason"]) for e in events]


def _record_live_period(auto: Automation) -> None:
    auto.register("fix", SCRIPT)
    auto.bind(**{k: v for k, v in SPEC.items() if k not in ("name", "remediation", "mode")})
    # The pause switch is audited on the real clock, so it comes first, while alert time = real time.
    with auto.database.write() as session:
        automation.set_paused(session, paused=True, by="test", now=auto.t0)
    auto.fire(auto.minute_now(), labels={"instance": "paused-1"})
    with auto.database.write() as session:
        automation.set_paused(session, paused=False, by="test", now=auto.t0)
    with auto.database.write() as session:
        silences.create(
            session,
            matchers=[silences.Matcher("instance", "=", "quiet")],
            starts_at=auto.t0 + timedelta(minutes=20),
            ends_at=auto.t0 + timedelta(minutes=25),
            comment="maintenance",
            by="test",
            is_admin=True,
            max_duration_s=86400,
            now=auto.t0,
        )
    steps = [
        (1, "web-1", "firing"),
        (2, "web-1", "ok"),
        (3, "web-1", "firing"),  # cooldown
        (4, "web-2", "firing"),
        (5, "web-3", "firing"),
        (6, "web-4", "firing"),  # rate limit
        (21, "quiet", "firing"),  # silenced
        (30, "bad-1", "firing"),
        (32, "bad-2", "firing"),  # two failures open the breaker
        (34, "web-5", "firing"),
        (40, "web-6", "firing"),
    ]  # breaker open
    for minute, instance, state in steps:
        auto.fire(minute, state=state, labels={"instance": instance})
        auto.wait_idle()  # the live run finishes (and moves the breaker) before the next alert


def test_it_replays_a_recorded_live_period_to_exactly_the_live_decisions(database: Any, tmp_path: Path) -> None:
    auto = Automation(database, tmp_path)
    try:
        _record_live_period(auto)
    finally:
        auto.backend.shutdown(wait=True)
    live = _live_decisions(database)
    with database.read() as session:
        rehearsed = rehearsal.decisions(
            session,
            BindingConfig.model_validate(SPEC),
            since=auto.t0 - timedelta(minutes=1),
            until=auto.t0 + timedelta(hours=1),
        )
    assert [(d.alert_id, STATE_OF_ACTION[d.action], d.reason) for d in rehearsed] == live
    guards = [r.split(" (")[0] for _a, _s, r in live]
    assert guards == [
        "skipped: automation paused",
        "run: all checks passed",
        "skipped: cooldown",
        "run: all checks passed",
        "run: all checks passed",
        "skipped: rate limit",
        "skipped: silenced by silence 1",
        "run: all checks passed",
        "run: all checks passed",
        "skipped: circuit breaker open",
        "skipped: circuit breaker open",
    ]
