"""app.events.publish: one event, its consequences as its kind says, in the caller's transaction."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.alerts.models import Alert, AlertEvent
from app.audit import service as audit
from app.audit.models import AuditRecord
from app.db import utcnow
from app.events import SINKS, Event, publish
from app.notify.models import OutboxMessage
from tests.conftest import make_config

WEBHOOK = {"name": "ops", "type": "generic", "url": "http://127.0.0.1:9/hook", "secret": "s" * 32}


@pytest.fixture
def chat_config(tmp_path: Any, database_url: str) -> Any:
    return make_config(tmp_path, database_url, channels=[WEBHOOK])


def _alert(session: Any) -> Alert:
    now = utcnow()
    alert = Alert(
        fingerprint="f1",
        detector="api",
        source="detector",
        labels={"service": "api"},
        severity="critical",
        state="firing",
        kind="threshold",
        started_at=now,
        last_seen_at=now,
    )
    session.add(alert)
    session.flush()
    return alert


def _counts(session: Any) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(AlertEvent)) or 0,
        session.scalar(select(func.count()).select_from(AuditRecord)) or 0,
        session.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
    )


def test_each_kind_reaches_exactly_the_sinks_its_row_names(app: Any, database: Any, chat_config: Any) -> None:
    with database.write() as s:
        alert = _alert(s)
        publish(s, [Event("alert.silenced", utcnow(), alert=alert, details={"silence_id": 7, "event": "firing"})])
        assert _counts(s) == (1, 0, 0)
        publish(s, [Event("token.create", utcnow(), actor="alice", target="token:ci", details={"role": "viewer"})])
        assert _counts(s) == (1, 1, 0)
        publish(
            s, [Event("alert.announced", utcnow(), alert=alert, details={"event": "alert.firing"})], config=chat_config
        )
        assert _counts(s) == (1, 1, 1)
        row = s.scalars(select(AlertEvent)).one()
        assert (row.kind, row.details) == ("silenced", {"silence_id": 7, "event": "firing"})
        record = s.scalars(select(AuditRecord)).one()
        assert (record.actor, record.action, record.target) == ("alice", "token.create", "token:ci")
        assert s.scalars(select(OutboxMessage)).one().event == "alert.firing"
    with database.read() as s:
        assert audit.verify(s).ok


def test_what_publish_wrote_rolls_back_with_the_change(app: Any, database: Any) -> None:
    with pytest.raises(RuntimeError), database.write() as s:
        publish(s, [Event("token.revoke", utcnow(), actor="alice", target="token:ci")])
        raise RuntimeError("the change failed after the event was published")
    with database.read() as s:
        assert _counts(s) == (0, 0, 0)


def test_an_unlisted_kind_or_a_routed_chat_event_without_the_channels_is_refused(app: Any, database: Any) -> None:
    with database.write() as s:
        alert = _alert(s)
        with pytest.raises(KeyError):
            publish(s, [Event("alert.teleported", utcnow(), alert=alert)])
        with pytest.raises(ValueError, match="needs the configuration"):
            publish(s, [Event("alert.announced", utcnow(), alert=alert, details={"event": "alert.firing"})])
    assert all(kind.count(".") == 1 for kind in SINKS)


def test_every_timeline_or_audit_kind_writes_the_row_its_sinks_entry_names(app: Any, database: Any) -> None:
    # Chat routes need channels and executions: test_publish above and the notify tests cover them.
    kinds = [kind for kind, sinks in SINKS.items() if sinks.chat is None]
    with database.write() as s:
        alert = _alert(s)
        for kind in kinds:
            publish(s, [Event(kind, utcnow(), actor="alice", alert=alert, target="thing:1", details={"why": kind})])
        timeline = {row.details["why"]: row for row in s.scalars(select(AlertEvent))}
        audited = {row.action: row for row in s.scalars(select(AuditRecord))}
    for kind in kinds:
        sinks, row, record = SINKS[kind], timeline.get(kind), audited.get(kind)
        wrote = (row.kind, row.actor) if row is not None else None
        assert wrote == ((sinks.timeline, "alice") if sinks.timeline else None), kind
        recorded = (record.target, record.details) if record is not None else None
        assert recorded == (("thing:1", {"why": kind}) if sinks.audit else None), kind
    with database.read() as s:
        assert audit.verify(s).ok
