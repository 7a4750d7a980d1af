"""Alerts of a detector removed from the configuration resolve when a scheduler takes over,
instead of staying pending or firing forever; received alerts are left to their sender."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.alerts import service as alerts
from app.alerts.models import Alert, AlertEvent
from app.automation.models import Execution
from app.db import utcnow
from app.scheduler import Scheduler
from tests.conftest import make_config
from tests.integration.automation.conftest import Automation


def raise_alert(database: Any, detector: str, state: str = "firing", instance: str = "web-1") -> int:
    from detectors.findings import Finding

    now = utcnow() - timedelta(minutes=5)
    with database.write() as session:
        [t] = alerts.apply(
            session,
            detector=detector,
            severity="warning",
            static_labels={},
            findings=[Finding(kind="threshold", labels={"instance": instance}, state=state, value=1.0, threshold=0.5)],
            now=now,
        )
        return t.alert_id


def receive_alert(database: Any, name: str) -> int:
    item = {
        "source": "alertmanager",
        "name": name,
        "status": "firing",
        "labels": {"alertname": name},
        "severity": "warning",
        "summary": "",
        "starts_at": utcnow().isoformat(),
        "value": None,
        "fingerprint": f"am-{name}",
        "dedup_key": name,
    }
    with database.write() as session:
        [t] = alerts.apply_external(session, item, now=utcnow())
        return t.alert_id


def config_with(tmp_path: Any, database_url: str, *detectors: dict[str, Any]) -> Any:
    return make_config(
        tmp_path,
        database_url,
        sources=[{"name": "host", "type": "host"}],
        detectors=[
            {
                "source": "host",
                "query": "cpu_percent",
                "interval": "1h",
                "window": "2h",
                "analysis": {"type": "threshold", "above": 99},
                **d,
            }
            for d in detectors
        ],
    )


def take_over(config: Any, database: Any) -> None:
    scheduler = Scheduler(config, database)
    try:
        scheduler.tick()
        assert scheduler.active
    finally:
        scheduler.shutdown()


def state_of(database: Any, alert_id: int) -> tuple[str, list[dict[str, Any]]]:
    with database.read() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        details = [
            e.details
            for e in session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id))
        ]
        return alert.state, details


def test_a_removed_detectors_alerts_resolve_with_a_reason_when_the_scheduler_starts(
    tmp_path, database, database_url
) -> None:
    firing = raise_alert(database, "gone")
    pending = raise_alert(database, "gone", state="pending", instance="web-2")
    kept = raise_alert(database, "kept")
    received = receive_alert(database, "gone")  # same name, from Alertmanager: not ours to close
    take_over(config_with(tmp_path, database_url, {"name": "kept"}), database)
    assert state_of(database, firing)[0] == "resolved"
    assert state_of(database, firing)[1][-1] == {"reason": "detector removed"}
    assert state_of(database, pending)[0] == "resolved"
    assert state_of(database, pending)[1][-1] == {"reason": "detector removed"}
    assert state_of(database, kept)[0] == "firing"
    assert state_of(database, received)[0] == "firing"


def test_a_disabled_detectors_alerts_resolve_too(tmp_path, database, database_url) -> None:
    alert_id = raise_alert(database, "paused")
    take_over(config_with(tmp_path, database_url, {"name": "paused", "enabled": False}), database)
    assert state_of(database, alert_id)[0] == "resolved"
    assert state_of(database, alert_id)[1][-1] == {"reason": "detector disabled"}


def test_resolving_an_orphan_ends_its_pending_approval(tmp_path, database, database_url) -> None:
    auto = Automation(database, tmp_path)
    try:
        auto.register()
        auto.bind(mode="approve")
        auto.fire(0)  # detector "cpu", which the configuration below does not have
        take_over(config_with(tmp_path, database_url, {"name": "kept"}), database)
        [execution] = auto.executions()
        assert execution.state == "cancelled" and "resolved before anyone approved" in execution.reason
    finally:
        auto.backend.shutdown(wait=True)


def test_nothing_happens_when_every_detector_is_still_configured(tmp_path, database, database_url) -> None:
    alert_id = raise_alert(database, "kept")
    config = config_with(tmp_path, database_url, {"name": "kept"})
    from app.detection import job

    with database.write() as session:
        assert job.resolve_orphans(session, config, now=utcnow()) == 0
    assert state_of(database, alert_id)[0] == "firing"
    with database.read() as session:
        assert session.scalars(select(Execution)).all() == []
