"""Bindings with when_suspect wait for the alert's diagnosis, then run only if a signal
matching their labels is among the top N suspects (decided by the real decision code)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.alerts.models import AlertEvent
from app.automation import bindings, registry
from app.automation.models import Execution
from app.diagnostics.worker import DiagnosisWorker
from config.schema import BindingConfig
from remediations import parse_manifest
from tests.helpers import free_port
from tests.integration.diagnostics.test_diagnosis_service import START, _config, _fire
from tests.integration.diagnostics.test_diagnosis_service import prometheus as prometheus  # noqa: F401  (a fixture)
from tests.integration.diagnostics.test_diagnosis_service import setup as setup  # noqa: F401  (a fixture)


def _bind(database: Any, name: str, when_suspect: dict[str, Any] | None, **fields: Any) -> None:
    spec = BindingConfig.model_validate(
        {"name": name, "remediation": "fix", "mode": "auto", "when_suspect": when_suspect, **fields}
    )
    with database.write() as session:
        if registry.list_all(session) == []:
            registry.register(
                session,
                manifest=parse_manifest({"name": "fix", "script": "#!/bin/sh\necho ok\n"}),
                by="test",
                now=START - timedelta(days=1),
            )
        bindings.create(session, spec=spec, by="test", now=START - timedelta(days=1))


def _decisions(database: Any, alert_id: int) -> dict[str, tuple[str, str]]:
    with database.read() as session:
        rows = session.scalars(select(Execution).where(Execution.alert_id == alert_id)).all()
        names = {b.id: b.name for b in bindings.list_all(session)}
        return {names[e.binding_id]: (e.state, e.reason) for e in rows if e.binding_id is not None}


def test_it_runs_a_when_suspect_binding_only_if_its_signal_is_a_top_suspect(setup: Any, database: Any) -> None:
    config, _client = setup
    _bind(database, "restart-db", {"labels": {"instance": "db-1"}, "top": 3})  # the induced cause
    _bind(database, "flush-cache", {"labels": {"__name__": "~cache_.*"}})  # no such signal
    _bind(database, "deep-db", {"labels": {"__name__": "pool_waiting"}, "top": 1}, detector="latency")
    alert_id = _fire(database, config, "latency")
    assert _decisions(database, alert_id) == {}  # nothing decided yet: they wait for the diagnosis
    with database.read() as session:
        waiting = [
            e.details
            for e in session.scalars(
                select(AlertEvent).where(AlertEvent.alert_id == alert_id, AlertEvent.kind == "remediation.decided")
            )
        ]
    assert {(d["binding"], d["state"], d["reason"]) for d in waiting} == {
        (name, "waiting", "waiting for diagnosis") for name in ("restart-db", "flush-cache", "deep-db")
    }
    worker = DiagnosisWorker(database, config, {}, holder="test", clock=lambda: START + timedelta(minutes=6))
    assert worker.run_pending() == 1
    decided = _decisions(database, alert_id)
    assert decided["restart-db"][0] == "queued" and decided["deep-db"][0] == "queued"
    state, reason = decided["flush-cache"]
    assert state == "skipped"
    assert reason == 'skipped: when_suspect: no signal matching {__name__="~cache_.*"} among the top 3 suspects'


def test_a_second_diagnosis_does_not_decide_a_binding_again(setup: Any, database: Any) -> None:
    config, client = setup
    _bind(database, "restart-db", {"labels": {"instance": "db-1"}})
    alert_id = _fire(database, config, "latency")
    DiagnosisWorker(database, config, {}, holder="t", clock=lambda: START + timedelta(minutes=6)).run_pending()
    assert client.as_("operator").post(f"/api/v1/alerts/{alert_id}/diagnose").status_code == 202
    DiagnosisWorker(database, config, {}, holder="t", clock=lambda: START + timedelta(minutes=7)).run_pending()
    with database.read() as session:
        assert len(session.scalars(select(Execution).where(Execution.alert_id == alert_id)).all()) == 1


def test_it_skips_a_when_suspect_binding_at_once_when_no_diagnosis_will_come(setup: Any, database: Any) -> None:
    config, _client = setup
    _bind(database, "restart-db", {"labels": {"instance": "db-1"}})
    alert_id = _fire(database, config, "plain")  # its detector has no diagnose: block
    assert _decisions(database, alert_id) == {
        "restart-db": ("skipped", "skipped: when_suspect: no diagnosis of this alert is queued")
    }


def test_a_failed_diagnosis_skips_the_waiting_binding_with_its_reason(
    tmp_path: Any, database_url: str, database: Any
) -> None:
    config = _config(tmp_path, database_url, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    _bind(database, "restart-db", {"labels": {"instance": "db-1"}})
    alert_id = _fire(database, config, "latency")
    DiagnosisWorker(database, config, {}, holder="t", clock=lambda: START + timedelta(minutes=6)).run_pending()
    assert _decisions(database, alert_id) == {"restart-db": ("skipped", "skipped: when_suspect: the diagnosis failed")}


def test_the_api_stores_when_suspect_and_rejects_a_bad_one_naming_the_field(setup: Any) -> None:
    _config_, client = setup
    admin = client.as_("admin")
    base = {"name": "b1", "remediation": "fix", "when_suspect": {"labels": {"job": "db"}, "top": 5}}
    created = admin.post("/api/v1/bindings", json=base)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["when_suspect"] == {"labels": {"job": "db"}, "top": 5}
    bad_regex = admin.post("/api/v1/bindings", json={**base, "name": "b2", "when_suspect": {"labels": {"job": "~(db"}}})
    assert bad_regex.status_code == 400 and "when_suspect.labels.job" in bad_regex.get_json()["errors"]
    bad_top = admin.post(
        "/api/v1/bindings", json={**base, "name": "b3", "when_suspect": {"labels": {"job": "db"}, "top": 0}}
    )
    assert bad_top.status_code == 400 and any("when_suspect" in k for k in bad_top.get_json()["errors"])
    empty = admin.post("/api/v1/bindings", json={**base, "name": "b4", "when_suspect": {"labels": {}}})
    assert empty.status_code == 400
