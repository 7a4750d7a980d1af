"""A grouped message says how many alerts it holds exactly once, on every channel type."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from app.notify import service
from app.notify.models import OutboxMessage
from app.notify.render import render
from tests.unit.notify.notify_builders import ALL_TYPES

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def _rows(count: int) -> list[OutboxMessage]:
    rows = []
    for i in range(count):
        alert = {
            "alert_id": i + 1,
            "detector": "ChatMany",
            "severity": "warning",
            "state": "firing",
            "labels": {"instance": f"web-{i}"},
            "started_at": NOW.isoformat(),
            "value": 1.0,
            "threshold": 0.5,
            "message": "",
            "url": f"https://vigil.example/alerts/{i + 1}",
        }
        rows.append(
            OutboxMessage(
                id=i + 1,
                channel="c",
                event="alert.firing",
                group_key="alert.firing:ChatMany",
                alert_id=i + 1,
                severity="warning",
                payload={"alert": alert},
                state="pending",
                attempts=0,
                created_at=NOW,
                not_before=NOW,
                give_up_at=NOW,
            )
        )
    return rows


@pytest.mark.parametrize("channel_type", ALL_TYPES)
def test_it_prints_the_count_of_a_group_once_on_each_channel_type(channel_type: str) -> None:
    body = json.dumps(render(channel_type, service.notification(_rows(15))), ensure_ascii=False)
    assert "Firing: ChatMany (15 alerts)" in body
    assert "(15 alerts) (15 alerts)" not in body


@pytest.mark.parametrize("channel_type", ALL_TYPES)
def test_it_gives_a_single_alert_no_count(channel_type: str) -> None:
    body = json.dumps(render(channel_type, service.notification(_rows(1))), ensure_ascii=False)
    assert "Firing: ChatMany" in body and "alerts)" not in body
