"""Incidents are kept as alerts fire and resolve: re-fires and one group within a window fold."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from app.alerts import service as alerts
from app.incidents import service as incidents
from app.incidents.models import Incident
from config.schema import IncidentSettings
from detectors.findings import Finding
from tests.conftest import make_config

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def fire(
    database: Any,
    detector: str,
    labels: dict[str, str],
    at: datetime,
    *,
    severity: str = "warning",
    grouping: IncidentSettings = incidents.DEFAULT_SETTINGS,
    message: str = "high",
) -> int:
    with database.write() as s:
        found = [Finding("threshold", labels, "firing", value=95.0, threshold=90.0, message=message)]
        return alerts.apply(
            s, detector=detector, severity=severity, static_labels={}, findings=found, now=at, grouping=grouping
        )[0].alert_id


def resolve(
    database: Any,
    detector: str,
    labels: dict[str, str],
    at: datetime,
    grouping: IncidentSettings = incidents.DEFAULT_SETTINGS,
) -> None:
    with database.write() as s:
        alerts.apply(
            s,
            detector=detector,
            severity="warning",
            static_labels={},
            findings=[Finding("threshold", labels, "ok", value=1.0)],
            now=at,
            grouping=grouping,
        )


def all_incidents(database: Any) -> list[Incident]:
    with database.read() as s:
        return incidents.search(s, incidents.IncidentQuery(limit=100))


def test_a_flapping_alert_is_one_incident_with_a_count(database: Any) -> None:
    for i in range(5):  # fires for 2 minutes, quiet for 8, eleven times over
        fire(database, "cpu", {"host": "a"}, T0 + timedelta(minutes=10 * i))
        resolve(database, "cpu", {"host": "a"}, T0 + timedelta(minutes=10 * i + 2))
    fire(database, "cpu", {"host": "a"}, T0 + timedelta(minutes=50))
    [incident] = all_incidents(database)
    assert (incident.alert_count, incident.open_count, incident.state) == (6, 1, "open")
    assert incident.started_at == T0
    resolve(database, "cpu", {"host": "a"}, T0 + timedelta(minutes=52))
    [incident] = all_incidents(database)
    assert (incident.state, incident.resolved_at) == ("resolved", T0 + timedelta(minutes=52))


def test_alerts_of_one_detector_fold_and_other_detectors_do_not(database: Any) -> None:
    fire(database, "cpu", {"host": "a"}, T0)
    fire(database, "cpu", {"host": "b"}, T0 + timedelta(minutes=1), severity="critical")
    fire(database, "disk", {"host": "a"}, T0 + timedelta(minutes=2))
    disk, cpu = all_incidents(database)
    assert (cpu.detector, cpu.alert_count, cpu.severity) == ("cpu", 2, "critical")
    assert (disk.detector, disk.alert_count) == ("disk", 1)


def test_a_fire_after_the_window_opens_a_new_incident(database: Any) -> None:
    fire(database, "cpu", {"host": "a"}, T0)
    resolve(database, "cpu", {"host": "a"}, T0 + timedelta(minutes=5))
    fire(database, "cpu", {"host": "a"}, T0 + timedelta(minutes=5 + 31))  # the default window is 30m
    later, first = all_incidents(database)
    assert first.state == "resolved" and later.state == "open" and later.alert_count == first.alert_count == 1


def test_configured_labels_fold_alerts_of_several_detectors(database: Any) -> None:
    grouping = IncidentSettings(group_by=("service",), window=600)
    fire(database, "latency", {"service": "api"}, T0, grouping=grouping)
    fire(database, "errors", {"service": "api"}, T0 + timedelta(minutes=1), grouping=grouping)
    fire(database, "errors", {"service": "db"}, T0 + timedelta(minutes=1), grouping=grouping)
    fire(database, "disk", {}, T0 + timedelta(minutes=2), grouping=grouping)  # no service label: by detector
    fire(database, "queue", {}, T0 + timedelta(minutes=2), grouping=grouping)
    found = {tuple(sorted(i.group_labels.items())): i.alert_count for i in all_incidents(database)}
    assert found == {
        (("service", "api"),): 2,
        (("service", "db"),): 1,
        (("detector", "disk"),): 1,
        (("detector", "queue"),): 1,
    }


def test_a_pending_alert_that_never_fires_makes_no_incident(database: Any) -> None:
    with database.write() as s:
        alerts.apply(
            s,
            detector="cpu",
            severity="warning",
            static_labels={},
            findings=[Finding("threshold", {"host": "a"}, "pending", value=95.0)],
            now=T0,
        )
    resolve(database, "cpu", {"host": "a"}, T0 + timedelta(minutes=1))
    assert all_incidents(database) == []


def test_the_api_lists_filters_and_shows_an_incident_with_its_timeline(client: Any, database: Any) -> None:
    for i in range(3):
        fire(database, "cpu", {"host": "a"}, T0 + timedelta(minutes=10 * i), severity="critical")
        resolve(database, "cpu", {"host": "a"}, T0 + timedelta(minutes=10 * i + 2))
    fire(database, "disk", {"host": "b"}, T0 + timedelta(hours=2))
    viewer = client.as_("viewer")
    page = viewer.get("/api/v1/incidents").json
    assert [(i["detector"], i["alert_count"], i["state"]) for i in page["items"]] == [
        ("disk", 1, "open"),
        ("cpu", 3, "resolved"),
    ]
    assert [i["detector"] for i in viewer.get("/api/v1/incidents?state=resolved").json["items"]] == ["cpu"]
    assert [i["detector"] for i in viewer.get("/api/v1/incidents?severity=warning").json["items"]] == ["disk"]
    assert [i["detector"] for i in viewer.get("/api/v1/incidents?detector=cpu").json["items"]] == ["cpu"]
    assert [i["detector"] for i in viewer.get("/api/v1/incidents?since=2026-11-01T13:00:00Z").json["items"]] == ["disk"]
    first = viewer.get("/api/v1/incidents?limit=1").json
    second = viewer.get(f"/api/v1/incidents?limit=1&cursor={first['next_cursor']}").json
    assert [i["detector"] for i in second["items"]] == ["cpu"] and second["next_cursor"] is None
    cpu = second["items"][0]["id"]
    detail = viewer.get(f"/api/v1/incidents/{cpu}").json
    assert len(detail["alerts"]) == 3
    assert [e["kind"] for e in detail["timeline"]] == ["firing", "resolved"] * 3
    assert [e["at"] for e in detail["timeline"]] == sorted(e["at"] for e in detail["timeline"])
    assert viewer.get(f"/api/v1/alerts/{detail['alerts'][0]['id']}").json["incident_id"] == cpu
    assert viewer.get("/api/v1/incidents/999").status_code == 404
    assert viewer.get("/api/v1/incidents?state=nope").status_code == 400
    assert client.as_(None).get("/api/v1/incidents").status_code == 401


def test_incident_grouping_is_read_from_the_settings(tmp_path: Any, database_url: str) -> None:
    config = make_config(
        tmp_path, database_url, settings={"incidents": {"group_by": ["team", "detector"], "window": "10m"}}
    )
    assert config.settings.incidents == IncidentSettings(group_by=("team", "detector"), window=600)
