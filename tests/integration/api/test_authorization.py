"""Every route, called with no token, a revoked token and each role, answers as the table
says. A route missing from the table fails the test, so each new route needs a decision."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.auth import ratelimit

OPEN = "open"  # anyone, no token needed
# (method, rule) -> the least role that passes, or OPEN; 'ingest' routes use their own tokens.
TABLE: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/health"): OPEN,
    ("GET", "/api/v1/ready"): OPEN,
    ("GET", "/metrics"): OPEN,
    ("GET", "/api/v1/swagger.json"): OPEN,
    ("GET", "/api/docs"): OPEN,
    ("GET", "/api/v1"): OPEN,
    ("GET", "/swaggerui/<path:filename>"): OPEN,
    ("GET", "/static/<path:filename>"): OPEN,
    ("GET", "/api/v1/tokens"): "admin",
    ("POST", "/api/v1/tokens"): "admin",
    ("DELETE", "/api/v1/tokens/<int:token_id>"): "admin",
    ("GET", "/api/v1/audit"): "viewer",
    ("GET", "/api/v1/audit/verify"): "viewer",
    ("GET", "/api/v1/alerts"): "viewer",
    ("GET", "/api/v1/alerts/<int:alert_id>"): "viewer",
    ("POST", "/api/v1/alerts/<int:alert_id>/ack"): "operator",
    ("POST", "/api/v1/alerts/<int:alert_id>/unack"): "operator",
    ("GET", "/api/v1/alerts/<int:alert_id>/diagnosis"): "viewer",
    ("POST", "/api/v1/alerts/<int:alert_id>/diagnose"): "operator",
    ("GET", "/api/v1/detectors"): "viewer",
    ("GET", "/api/v1/detectors/<string:name>"): "viewer",
    ("POST", "/api/v1/detectors/<string:name>/run"): "operator",
    ("GET", "/api/v1/detectors/<string:name>/preview"): "viewer",
    ("GET", "/api/v1/remediations"): "viewer",
    ("POST", "/api/v1/remediations"): "admin",
    ("GET", "/api/v1/remediations/builtins"): "viewer",
    ("GET", "/api/v1/remediations/<string:name>"): "viewer",
    ("GET", "/api/v1/remediations/<string:name>/versions/<int:number>"): "viewer",
    ("POST", "/api/v1/remediations/<string:name>/disable"): "admin",
    ("POST", "/api/v1/remediations/<string:name>/run"): "operator",
    ("GET", "/api/v1/remediations/<string:name>/stats"): "viewer",
    ("GET", "/api/v1/executions"): "viewer",
    ("GET", "/api/v1/executions/<int:execution_id>"): "viewer",
    ("GET", "/api/v1/executions/<int:execution_id>/output"): "viewer",
    ("POST", "/api/v1/executions/<int:execution_id>/approve"): "operator",
    ("POST", "/api/v1/executions/<int:execution_id>/reject"): "operator",
    ("POST", "/api/v1/executions/<int:execution_id>/cancel"): "operator",
    ("GET", "/api/v1/bindings"): "viewer",
    ("POST", "/api/v1/bindings"): "admin",
    ("GET", "/api/v1/bindings/<int:binding_id>"): "viewer",
    ("DELETE", "/api/v1/bindings/<int:binding_id>"): "admin",
    ("PUT", "/api/v1/bindings/<int:binding_id>"): "admin",
    ("POST", "/api/v1/bindings/<int:binding_id>/close-breaker"): "operator",
    ("POST", "/api/v1/bindings/rehearse"): "operator",
    ("GET", "/api/v1/bindings/<int:binding_id>/shadow-report"): "viewer",
    ("POST", "/api/v1/bindings/<int:binding_id>/promote"): "admin",
    ("POST", "/api/v1/detectors/<string:name>/rehearse"): "operator",
    ("GET", "/api/v1/automation"): "viewer",
    ("POST", "/api/v1/automation/pause"): "operator",
    ("POST", "/api/v1/automation/resume"): "operator",
    ("GET", "/api/v1/channels"): "viewer",
    ("POST", "/api/v1/channels/<string:name>/test"): "operator",
    ("GET", "/api/v1/notifications"): "viewer",
    ("POST", "/api/v1/notifications/<int:message_id>/retry"): "operator",
    ("GET", "/api/v1/reports"): "viewer",
    ("GET", "/api/v1/silences"): "viewer",
    ("POST", "/api/v1/silences"): "operator",
    ("DELETE", "/api/v1/silences/<int:silence_id>"): "operator",
    ("POST", "/api/v1/silences/preview"): "viewer",
    ("GET", "/api/v1/incidents"): "viewer",
    ("GET", "/api/v1/incidents/<int:incident_id>"): "viewer",
    ("POST", "/alerts/bulk"): "session",
    ("GET", "/incidents"): "session",
    ("GET", "/incidents/<incident_id>"): "session",
    ("GET", "/silences"): "session",
    ("GET", "/silences/new"): "session",
    ("POST", "/silences"): "session",
    ("POST", "/silences/<silence_id>/expire"): "session",
    ("GET", "/silences/preview.json"): "session",
    ("POST", "/api/v1/ingest/alertmanager"): "ingest",
    ("POST", "/api/v1/ingest/grafana"): "ingest",
    ("POST", "/api/v1/ingest/generic"): "ingest",
    ("GET", "/api/v1/ingest/inbox"): "viewer",
    # Button presses prove their origin with the chat service's signature / action secret.
    ("POST", "/api/v1/chat/slack/actions"): "ingest",
    ("POST", "/api/v1/chat/mattermost/actions"): "ingest",
    # The dashboard signs in with a token into a session (tests/integration/dashboard checks
    # each role there); without a session every page sends you to /login and no action runs.
    ("GET", "/assets/<path:filename>"): OPEN,
    ("GET", "/login"): OPEN,
    ("POST", "/login"): OPEN,
    ("POST", "/logout"): OPEN,
    ("GET", "/"): "session",
    ("GET", "/alerts"): "session",
    ("GET", "/alerts/firing.json"): "session",
    ("GET", "/alerts/<alert_id>"): "session",
    ("POST", "/alerts/<alert_id>/ack"): "session",
    ("GET", "/audit"): "session",
    ("GET", "/remediations"): "session",
    ("GET", "/remediations/<name>"): "session",
    ("GET", "/remediations/<name>/versions/<number>"): "session",
    ("POST", "/bindings/<binding_id>/close-breaker"): "session",
    ("GET", "/executions"): "session",
    ("GET", "/executions/<execution_id>"): "session",
    ("POST", "/executions/<execution_id>/approve"): "session",
    ("POST", "/executions/<execution_id>/reject"): "session",
    ("POST", "/executions/<execution_id>/cancel"): "session",
    ("POST", "/automation/<switch>"): "session",
    ("GET", "/detectors"): "session",
    ("GET", "/detectors/<name>/preview.json"): "session",
    ("GET", "/reports"): "session",
    ("GET", "/reports/<table>.csv"): "session",
    ("GET", "/alerts.csv"): "session",
    ("GET", "/executions.csv"): "session",
    ("GET", "/audit.csv"): "session",
    ("GET", "/notifications"): "session",
    ("GET", "/notifications.csv"): "session",
    ("POST", "/notifications/<message_id>/retry"): "session",
    ("GET", "/remediations/<name>/run"): "session",
    ("POST", "/remediations/<name>/run"): "session",
    ("GET", "/remediations/<name>/diff"): "session",
    ("GET", "/executions/<execution_id>/output.json"): "session",
    ("GET", "/bindings/<binding_id>"): "session",
    ("POST", "/bindings/<binding_id>/rehearse"): "session",
    ("GET", "/bindings/new"): "session",
    ("POST", "/bindings"): "session",
    ("GET", "/bindings/<binding_id>/edit"): "session",
    ("POST", "/bindings/<binding_id>/edit"): "session",
    ("GET", "/detectors/<name>"): "session",
    ("POST", "/detectors/<name>/rehearse"): "session",
}
ROLES = ("viewer", "operator", "admin")
CALLERS = (None, "revoked", *ROLES)


def api_routes(app: Any) -> list[tuple[str, str]]:
    """Every route of the app (API and dashboard), one entry per method."""
    return [(m, rule.rule) for rule in app.url_map.iter_rules() for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]


def concrete(rule: str) -> str:
    return re.sub(
        r"<(?:int:|string:|path:)?([a-z_]+)>",
        lambda m: (
            "x.css"
            if m.group(1) == "filename"
            else ("1" if m.group(0).startswith("<int") or m.group(1).endswith(("_id", "number")) else "pause")
        ),
        rule,
    )


def test_every_route_has_a_decision(app: Any) -> None:
    missing = [r for r in api_routes(app) if r not in TABLE]
    assert missing == [], f"add these routes to the authorization table: {missing}"


@pytest.mark.parametrize("caller", CALLERS)
def test_each_route_answers_each_caller_as_the_table_says(client: Any, app: Any, caller: str | None) -> None:
    wrong = []
    for method, rule in api_routes(app):
        ratelimit._failures.clear()  # this test makes many failed calls on purpose
        need = TABLE[(method, rule)]
        answer = client.as_(caller).open(concrete(rule), method=method, json={})
        status = answer.status_code
        if need == OPEN:
            ok = status not in (401, 403)
        elif need == "session":  # API tokens do not sign in to the dashboard
            ok = (
                status == 302
                and "/login" in answer.headers.get("Location", "")
                or status == 401
                and rule.endswith(".json")
                or (method == "POST" and status in (400, 401, 403))
            )
        elif need == "ingest":
            ok = status == 401  # API tokens of any role are not ingest credentials
        elif caller in (None, "revoked"):
            ok = status == 401
        elif ROLES.index(caller) < ROLES.index(need):
            ok = status == 403
        else:
            ok = status not in (401, 403)
        if not ok:
            wrong.append((method, rule, status))
    assert wrong == []


def test_repeated_bad_tokens_are_rate_limited(client: Any) -> None:
    ratelimit._failures.clear()
    bad = client.as_(None)
    statuses = [
        bad.get("/api/v1/alerts", headers={"Authorization": f"Bearer guess-{i}"}).status_code
        for i in range(ratelimit.MAX_FAILURES + 3)
    ]
    assert statuses[: ratelimit.MAX_FAILURES] == [401] * ratelimit.MAX_FAILURES
    assert statuses[-1] == 429
    limited = bad.get("/api/v1/alerts", headers={"Authorization": "Bearer guess"})
    assert int(limited.headers["Retry-After"]) > 0
    ratelimit._failures.clear()
