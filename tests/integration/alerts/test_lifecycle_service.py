from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from app.alerts import service
from app.alerts.models import Alert, AlertEvent
from detectors.findings import Finding

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def finding(state: str, value: float = 95.0, **labels: str) -> Finding:
    return Finding(
        kind="threshold",
        labels=labels or {"instance": "a"},
        state=state,
        value=value,
        threshold=90.0,
        message=f"cpu {value} > 90",
    )


def apply(database, state: str, minute: int, **labels: str):
    with database.write() as session:
        return service.apply(
            session,
            detector="cpu",
            severity="warning",
            static_labels={"team": "sre"},
            findings=[finding(state, **labels)],
            now=T0 + timedelta(minutes=minute),
        )


def alerts(database) -> list[Alert]:
    with database.read() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def event_kinds(database, alert_id: int) -> list[str]:
    with database.read() as session:
        return [e.kind for e in service.events(session, alert_id)]


def test_it_goes_pending_firing_resolved_with_an_event_per_transition(database) -> None:
    assert [t.event for t in apply(database, "pending", 0)] == ["pending"]
    assert [t.event for t in apply(database, "firing", 1)] == ["firing"]
    assert apply(database, "firing", 2) == []  # repeat findings update, no new event
    assert [t.event for t in apply(database, "ok", 3)] == ["resolved"]
    [alert] = alerts(database)
    assert alert.state == "resolved" and alert.labels == {"team": "sre", "instance": "a"}
    assert (alert.fired_at, alert.resolved_at) == (T0 + timedelta(minutes=1), T0 + timedelta(minutes=3))
    assert event_kinds(database, alert.id) == ["pending", "firing", "resolved"]


def test_repeat_findings_keep_one_alert_and_the_latest_value(database) -> None:
    apply(database, "firing", 0)
    with database.write() as session:
        service.apply(
            session,
            detector="cpu",
            severity="warning",
            static_labels={"team": "sre"},
            findings=[finding("firing", value=99.5)],
            now=T0 + timedelta(minutes=1),
        )
    [alert] = alerts(database)
    assert alert.value == 99.5 and alert.last_seen_at == T0 + timedelta(minutes=1)


def test_label_sets_are_separate_alerts_and_ok_without_an_alert_creates_nothing(database) -> None:
    apply(database, "firing", 0, instance="a")
    apply(database, "firing", 0, instance="b")
    apply(database, "ok", 0, instance="c")
    assert sorted(a.labels["instance"] for a in alerts(database)) == ["a", "b"]


def test_a_new_incident_after_resolution_is_a_new_alert(database) -> None:
    apply(database, "firing", 0)
    apply(database, "ok", 1)
    apply(database, "firing", 2)
    assert [a.state for a in alerts(database)] == ["resolved", "firing"]


def test_ack_records_who_and_an_event_and_refuses_resolved_alerts(database) -> None:
    apply(database, "firing", 0)
    [alert] = alerts(database)
    with database.write() as session:
        service.acknowledge(session, alert_id=alert.id, by="alice", now=T0, comment="looking")
    assert alerts(database)[0].acked_by == "alice"
    assert event_kinds(database, alert.id)[-1] == "acked"
    apply(database, "ok", 1)
    import pytest

    from app.errors import ConflictError

    with pytest.raises(ConflictError), database.write() as session:
        service.acknowledge(session, alert_id=alert.id, by="bob", now=T0)


def test_search_filters_by_label_matchers_state_and_pages_by_cursor(database) -> None:
    for i in range(5):
        apply(database, "firing", i, instance=f"i{i}")
    with database.read() as session:
        only = service.search(session, service.AlertQuery(matchers=(("instance", "=", "i3"),)))
        not3 = service.search(session, service.AlertQuery(matchers=(("instance", "!=", "i3"),)))
        first = service.search(session, service.AlertQuery(limit=2))
        rest = service.search(session, service.AlertQuery(limit=10, cursor=first[1].id))
    assert [a.labels["instance"] for a in only] == ["i3"]
    assert len(not3) == 4
    assert [a.labels["instance"] for a in first[:2]] == ["i4", "i3"]
    assert [a.labels["instance"] for a in rest] == ["i2", "i1", "i0"]


def test_no_two_open_alerts_can_exist_for_one_fingerprint(database) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    apply(database, "firing", 0)
    [alert] = alerts(database)
    with pytest.raises(IntegrityError), database.write() as session:
        session.add(
            Alert(
                fingerprint=alert.fingerprint,
                detector="cpu",
                labels={},
                severity="warning",
                state="pending",
                kind="threshold",
                started_at=T0,
                last_seen_at=T0,
            )
        )
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(AlertEvent)) == 1
