"""A failed notification, retried by a person, is sent again by the real sender."""

from __future__ import annotations

from typing import Any

import pytest

from app.alerts import service as alerts
from app.audit.models import AuditRecord
from app.db import utcnow
from app.errors import ConflictError
from app.notify import outbox, service
from app.notify.models import OutboxMessage
from app.notify.sender import Sender
from config.loader import from_dict
from detectors.findings import Finding


def test_a_refused_message_fails_then_goes_out_once_retried(database: Any, webhook: Any) -> None:
    config = from_dict(
        {
            "channels": [
                {
                    "name": "ops",
                    "type": "generic",
                    "url": webhook.url,
                    "group_wait_s": 0,
                    "secret": "0123456789abcdef-secret",
                    "events": ["alert.firing"],
                }
            ]
        },
        {},
    )
    now = utcnow()
    with database.write() as s:
        alert_id = alerts.apply(
            s,
            detector="disk",
            severity="critical",
            static_labels={},
            now=now,
            findings=[Finding("threshold", {"host": "db-1"}, "firing", value=97.0, threshold=90.0)],
        )[0].alert_id
        assert service.enqueue_alert(s, config, alert=alerts.get(s, alert_id), event="alert.firing", now=now) == 1
    sender = Sender(database, config.channels)
    webhook.answer(status=400, body=b"bad payload")  # permanent: no automatic retry
    sender.run_once(now)
    with database.read() as s:
        row = s.query(OutboxMessage).one()
        assert row.state == "failed" and row.last_status == 400
    with database.write() as s:
        outbox.retry(s, config, message_id=row.id, by="alice", now=utcnow())
    sender.run_once(utcnow())
    with database.read() as s:
        row = s.query(OutboxMessage).one()
        assert row.state == "sent" and row.attempts == 2
        assert s.query(AuditRecord).filter(AuditRecord.action == "notification.retry").one().actor == "alice"
    assert len(webhook.received) == 2
    with pytest.raises(ConflictError, match="is sent; only a failed one can be retried"), database.write() as s:
        outbox.retry(s, config, message_id=row.id, by="alice", now=utcnow())
