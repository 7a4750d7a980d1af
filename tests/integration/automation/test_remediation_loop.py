"""The remediation loop end to end (issue 19): approvals that expire or go stale, effectiveness
that the API and /metrics agree on, and safety checks that hold under a burst."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app import create_app
from app.alerts.models import Alert, AlertEvent
from app.audit.models import AuditRecord
from app.automation import service
from app.automation.models import Execution
from app.db import utcnow
from app.ingest import service as ingest_service
from tests.conftest import make_config
from tests.helpers import Client
from tests.integration.automation.conftest import Automation

TOKEN = "am-ingest-token-0123456789"


@pytest.fixture
def api(tmp_path: Path, database_url: str, database: Any, tokens: dict[str, str]) -> Any:
    config = make_config(tmp_path, database_url, ingest={"alertmanager": {"token": TOKEN}})
    app = create_app(config)
    yield Client(app.test_client(), tokens, role="operator"), config
    app.extensions["vigil.db"].dispose()


def waiting(auto: Automation) -> Execution:
    [execution] = [e for e in auto.executions() if e.state == "awaiting_approval"]
    return execution


def get(auto: Automation, execution_id: int) -> Execution:
    with auto.database.read() as session:
        row = session.get(Execution, execution_id)
        assert row is not None
        return row


# ---- 1. approvals expire, go stale, carry comments --------------------------------------


def test_an_unanswered_approval_expires_without_any_request_and_frees_the_binding(auto) -> None:
    auto.register()
    auto.bind(mode="approve", approval_timeout="30m", cooldown=0)
    auto.fire(0)
    first = waiting(auto)
    assert first.expires_at == auto.t0 + timedelta(minutes=30)
    auto.dispatcher.dispatch(now=auto.t0 + timedelta(minutes=29))
    assert get(auto, first.id).state == "awaiting_approval"
    auto.dispatcher.dispatch(now=auto.t0 + timedelta(minutes=31))  # the scheduler's periodic pass
    expired = get(auto, first.id)
    assert (expired.state, expired.fingerprint) == ("expired", None)
    assert expired.reason == "expired: nobody approved it within 30m"
    with auto.database.write() as session:  # the alert fires again: no longer "already queued or running"
        [again] = service.on_firing(session, session.scalars(select(Alert)).one(), now=auto.t0 + timedelta(minutes=40))
        assert again.state == "awaiting_approval"


def test_the_approval_timeout_defaults_to_one_hour(auto) -> None:
    auto.register()
    auto.bind(mode="approve")
    auto.fire(0)
    assert waiting(auto).expires_at == auto.t0 + timedelta(hours=1)


def test_a_pending_approval_is_cancelled_with_a_reason_when_its_alert_resolves(auto) -> None:
    auto.register()
    auto.bind(mode="approve", cooldown=0)
    auto.fire(0)
    execution = waiting(auto)
    auto.resolve(1)
    row = get(auto, execution.id)
    assert (row.state, row.cancelled_by) == ("cancelled", "system")
    assert re.fullmatch(r"cancelled: alert \d+ resolved before anyone approved", row.reason)
    with auto.database.read() as session:
        kinds = [e.kind for e in session.scalars(select(AlertEvent).order_by(AlertEvent.id))]
    assert "remediation.cancelled" in kinds


def test_approving_after_the_alert_resolved_answers_409_unless_forced(auto, api) -> None:
    client, _config = api
    auto.register()
    auto.bind(mode="approve", cooldown=0)
    auto.fire(0)
    execution = waiting(auto)
    auto.resolve(auto.minute_now())
    refused = client.post(f"/api/v1/executions/{execution.id}/approve", json={})
    assert refused.status_code == 409
    assert "resolved" in refused.json["message"] and "force" in refused.json["errors"]
    assert get(auto, execution.id).state == "cancelled"  # nothing ran
    forced = client.post(
        f"/api/v1/executions/{execution.id}/approve",
        json={"force": True, "comment": "run it anyway: the cache is still cold"},
    )
    assert forced.status_code == 200, forced.json
    assert forced.json["approved_by"] == "test-operator" and forced.json["reason"].startswith(
        "approved by test-operator (forced: its alert"
    )
    [done] = auto.wait_idle()
    assert done.state == "succeeded" and done.comment == "run it anyway: the cache is still cold"
    assert done.outcome == "not_applicable"  # it started after its alert had resolved


def test_an_expired_approval_can_only_be_forced(auto, api) -> None:
    client, _config = api
    auto.register()
    auto.bind(mode="approve")
    auto.fire(0)
    execution = waiting(auto)
    auto.dispatcher.dispatch(now=auto.t0 + timedelta(hours=2))
    assert client.post(f"/api/v1/executions/{execution.id}/approve").status_code == 409
    assert client.post(f"/api/v1/executions/{execution.id}/approve", json={"force": True}).status_code == 200
    assert auto.wait_idle()[0].state == "succeeded"


def test_a_fresh_approval_needs_no_force_and_keeps_its_comment_in_the_api_and_audit(auto, api) -> None:
    client, _config = api
    auto.register()
    auto.bind(mode="approve")
    auto.fire(0)
    execution = waiting(auto)
    answer = client.post(f"/api/v1/executions/{execution.id}/approve", json={"comment": "looks right"})
    assert answer.status_code == 200 and answer.json["comment"] == "looks right"
    auto.wait_idle()
    assert client.get(f"/api/v1/executions/{execution.id}").json["comment"] == "looks right"
    with auto.database.read() as session:
        record = session.scalars(select(AuditRecord).where(AuditRecord.action == "execution.approve")).one()
    assert record.details["comment"] == "looks right" and record.actor == "test-operator"


def test_a_rejection_records_the_rejecter_apart_from_any_approver(auto, api) -> None:
    client, _config = api
    auto.register()
    auto.bind(mode="approve")
    auto.fire(0)
    execution = waiting(auto)
    answer = client.post(f"/api/v1/executions/{execution.id}/reject", json={"comment": "not during the deploy"})
    assert answer.status_code == 200
    assert (answer.json["state"], answer.json["rejected_by"], answer.json["approved_by"]) == (
        "rejected",
        "test-operator",
        None,
    )
    assert answer.json["comment"] == "not during the deploy"


def test_action_bodies_are_checked_field_by_field(auto, api) -> None:
    client, _config = api
    auto.register()
    auto.bind(mode="approve")
    auto.fire(0)
    execution = waiting(auto)
    unknown = client.post(f"/api/v1/executions/{execution.id}/approve", json={"forse": True})
    assert unknown.status_code == 400 and "forse" in str(unknown.json)
    forced_reject = client.post(f"/api/v1/executions/{execution.id}/reject", json={"force": True})
    assert forced_reject.status_code == 400 and "force" in forced_reject.json["errors"]
    assert client.post(f"/api/v1/executions/{execution.id}/approve", json={"comment": "x" * 1001}).status_code == 400
    assert get(auto, execution.id).state == "awaiting_approval"


# ---- 2. effectiveness: one verdict, shown alike by the API and /metrics ------------------


def metric(body: str, remediation: str, outcome: str) -> int:
    found = re.search(
        rf'^vigil_remediation_outcomes_total\{{(?=[^}}]*outcome="{outcome}")'
        rf'(?=[^}}]*remediation="{remediation}")[^}}]*\}} (\S+)$',
        body,
        re.M,
    )
    return int(float(found.group(1))) if found else 0


def test_a_run_that_starts_after_its_alert_resolved_is_never_effective(auto) -> None:
    auto.register(script="#!/bin/sh\nsleep 0.3\n")
    auto.bind(mode="approve", cooldown=0)
    auto.fire(0)
    execution = waiting(auto)
    auto.resolve(auto.minute_now())
    with auto.database.write() as session:
        service.approve(session, execution_id=execution.id, by="alice", now=utcnow(), force=True)
    [done] = auto.wait_idle()
    assert done.state == "succeeded"
    assert (done.outcome, done.recovery_s) == ("not_applicable", None)


def test_the_api_and_metrics_report_the_same_effectiveness(auto, api) -> None:
    client, _config = api
    auto.register()
    auto.bind(cooldown=0, rate_limit=100)
    for i in range(3):  # effective: each alert resolves within the verify window after its run
        auto.fire(0, labels={"instance": f"ok-{i}"})
        auto.wait_idle()
        auto.resolve(auto.minute_now() + 0.1, labels={"instance": f"ok-{i}"})
    auto.fire(0, labels={"instance": "stuck"})  # never resolves: not effective once the window passes
    auto.wait_idle()
    with auto.database.write() as session:
        service.expire_verifications(session, now=utcnow() + timedelta(days=1))
    stats = client.get("/api/v1/remediations/fix/stats").json
    body = client.as_(None).get("/metrics").get_data(as_text=True)
    assert (stats["effective"], stats["not_effective"]) == (3, 1)
    assert metric(body, "fix", "effective") == stats["effective"]
    assert metric(body, "fix", "not_effective") == stats["not_effective"]
    assert metric(body, "fix", "not_applicable") == stats["not_applicable"] == 0
    assert stats["effectiveness_rate"] == 0.75 and stats["median_time_to_recovery_s"] > 0


# ---- 7. safety checks hold under a burst -------------------------------------------------


def am_alert(i: int) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "DiskFull", "instance": f"db-{i}"},
        "annotations": {},
        "startsAt": utcnow().isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": f"f{i}",
    }


def ingest_burst(client: Client, config: Any, database: Any, count: int) -> None:
    payload = {
        "version": "4",
        "groupKey": "{}",
        "status": "firing",
        "receiver": "vigil",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "",
        "truncatedAlerts": 0,
        "alerts": [am_alert(i) for i in range(count)],
    }
    answer = client.as_(None).post(
        "/api/v1/ingest/alertmanager", json=payload, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code in (200, 202), answer.json
    with database.write() as session:
        processed, _queued = ingest_service.process(session, config, now=utcnow())
    assert processed == 1 or processed == count


@pytest.mark.parametrize("max_concurrency", [1, 5])
def test_a_burst_against_a_failing_script_stops_at_the_breaker_threshold(auto, api, max_concurrency) -> None:
    client, config = api
    auto.register(script="#!/bin/sh\nexit 1\n", max_concurrency=max_concurrency)
    auto.bind(detector="DiskFull", breaker_threshold=3, cooldown=0, rate_limit=100)
    ingest_burst(client, config, auto.database, 15)
    rows = auto.wait_idle(timeout_s=60)
    ran = [r for r in rows if r.state == "failed"]
    assert len(rows) == 15 and len(ran) == 3
    skipped = [r for r in rows if r.state == "skipped"]
    assert len(skipped) == 12
    assert all(r.reason == "skipped at dispatch: circuit breaker open (after 3 consecutive failures)" for r in skipped)


def test_runs_held_back_by_a_burst_say_queued_concurrency(auto, api) -> None:
    client, config = api
    auto.register(max_concurrency=1)
    auto.bind(detector="DiskFull", cooldown=0, rate_limit=100)
    ingest_burst(client, config, auto.database, 4)
    with auto.database.read() as session:
        reasons = [
            e.details["reason"]
            for e in session.scalars(
                select(AlertEvent).where(AlertEvent.kind == "remediation.decided").order_by(AlertEvent.id)
            )
        ]
    assert reasons[0] == "run: all checks passed"
    assert reasons[1:] == [f"queued: concurrency ({n} running or waiting, max 1)" for n in (1, 2, 3)]
    assert [r.state for r in auto.wait_idle()] == ["succeeded"] * 4


def test_queued_runs_are_skipped_at_dispatch_when_automation_is_paused_meanwhile(auto) -> None:
    auto.register()
    auto.bind(cooldown=0, rate_limit=100)
    auto.decide(0, labels={"instance": "a"})
    auto.decide(0, labels={"instance": "b"})
    with auto.database.write() as session:
        service.set_paused(session, paused=True, by="alice", now=utcnow())
    rows = auto.wait_idle()
    assert [r.state for r in rows] == ["skipped", "skipped"]
    assert rows[1].reason == "skipped at dispatch: automation paused"
    with auto.database.read() as session:
        assert len(session.scalars(select(AlertEvent).where(AlertEvent.kind == "remediation.skipped")).all()) == 2


def test_queued_runs_are_skipped_at_dispatch_when_a_silence_now_covers_the_alert(auto) -> None:
    from app.silences import service as silences

    auto.register()
    auto.bind(cooldown=0, rate_limit=100)
    auto.decide(0, labels={"instance": "a"})
    auto.decide(0, labels={"instance": "b"})
    with auto.database.write() as session:
        silence = silences.create(
            session,
            matchers=silences.parse_matchers([{"name": "instance", "value": "b"}]),
            starts_at=utcnow() - timedelta(minutes=1),
            ends_at=utcnow() + timedelta(hours=1),
            comment="maintenance",
            by="alice",
            is_admin=True,
            max_duration_s=86400,
            now=utcnow(),
        )
    rows = auto.wait_idle()
    assert [r.state for r in rows] == ["succeeded", "skipped"]
    assert rows[1].reason == f"skipped at dispatch: silenced by silence {silence.id}"


def test_a_queued_run_whose_alert_resolved_before_it_started_does_not_start(auto) -> None:
    auto.register()
    auto.bind(cooldown=0, rate_limit=100)
    auto.decide(0, labels={"instance": "a"})
    auto.decide(0, labels={"instance": "b"})
    auto.resolve(0.1, labels={"instance": "b"})
    rows = auto.wait_idle()
    assert [r.state for r in rows] == ["succeeded", "skipped"]
    assert re.fullmatch(r"skipped at dispatch: its alert \d+ resolved before it could start", rows[1].reason)


# ---- 8. an interrupted run says what is known ----------------------------------------------


def test_an_interrupted_run_that_had_started_may_have_completed(auto) -> None:
    from app.automation import results

    auto.register()
    auto.bind(cooldown=0)
    with auto.database.write() as session:
        service.set_paused(session, paused=True, by="t", now=utcnow())
    auto.fire(0, labels={"instance": "a"})
    with auto.database.write() as session:
        [execution] = session.scalars(select(Execution)).all()
        execution.state, execution.started_at, execution.pid = "running", utcnow(), 4242
        results.interrupt(session, execution, "interrupted: RQ worker w1 stopped sending heartbeats")
    row = auto.executions()[0]
    assert row.state == "interrupted" and row.outcome_unknown and row.exit_code is None
    assert "the script was started at" in row.reason
    assert row.reason.endswith("its result never came back: it may have run to completion")


def test_an_interrupted_run_that_never_started_says_so(auto) -> None:
    from app.automation import results

    auto.register()
    auto.bind()
    auto.fire(0)
    with auto.database.write() as session:
        [execution] = session.scalars(select(Execution)).all()
        execution.state, execution.started_at = "dispatched", None
        results.interrupt(session, execution, "interrupted: its RQ job is gone")
    row = auto.executions()[0]
    assert not row.outcome_unknown and row.reason.endswith("the script never started")


def test_the_interrupted_run_in_the_api_shows_outcome_unknown(auto, api) -> None:
    client, _config = api
    from app.automation import results

    auto.register()
    auto.bind()
    auto.fire(0)
    auto.wait_idle()
    with auto.database.write() as session:
        [execution] = session.scalars(select(Execution)).all()
        execution.state = "running"
        results.interrupt(session, execution, "interrupted: runner x stopped before the script finished")
    assert client.get(f"/api/v1/executions/{execution.id}").json["outcome_unknown"] is True


def test_a_binding_takes_its_approval_timeout_as_a_duration(api) -> None:
    client, _config = api
    admin = client.as_("admin")
    created = admin.post(
        "/api/v1/bindings", json={"name": "b30", "remediation": "fix", "mode": "approve", "approval_timeout": "30m"}
    )
    assert created.status_code == 201 and created.json["approval_timeout_s"] == 1800
    refused = admin.post("/api/v1/bindings", json={"name": "bad", "remediation": "fix", "approval_timeout": "soon"})
    assert refused.status_code == 400 and any("approval_timeout" in key for key in refused.json["errors"])
