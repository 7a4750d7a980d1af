"""Dashboard pages: filters in the URL, cursor pages, friendly 4xx pages, security headers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text

from tests.integration.dashboard.conftest import Web, World

PAGES = [
    "/alerts",
    "/alerts/{alert_id}",
    "/detectors",
    "/remediations",
    "/remediations/fix",
    "/remediations/fix/versions/1",
    "/executions",
    "/executions/{execution_id}",
    "/audit",
]


def _ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td(?: data-label="#")?><a href="/alerts/(\d+)">#', page)]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_security_headers(web: Web, world: World, path: str) -> None:
    answer = web.login("viewer").get(path.format(alert_id=world.alert_id, execution_id=world.execution_id))
    assert answer.status_code == 200, answer.text
    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert answer.headers["Cache-Control"] == "no-store"
    # no inline script or style anywhere: the CSP would block them
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", answer.text)
    assert " style=" not in answer.text and "<style" not in answer.text
    assert not re.search(r'(src|href)="(https?:)?//', answer.text)  # nothing from another origin


def test_login_error_pages_and_static_files_carry_the_headers_too(web: Web) -> None:
    for answer in (
        web.get("/login"),
        web.get("/no-such-page"),
        web.get("/assets/dashboard.css"),
        web.get("/assets/vendor/uplot/uPlot.iife.min.js"),
    ):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    assert web.get("/assets/vendor/uplot/LICENSE").status_code == 200


def test_the_api_keeps_its_own_headers(web: Web) -> None:
    assert "Content-Security-Policy" not in web.get("/api/v1/health").headers


def test_filters_narrow_the_list_and_survive_in_page_links(web: Web, world: World) -> None:
    web.login("viewer")
    everything = _ids(web.get("/alerts").text)
    assert everything == sorted(everything, reverse=True) and {world.alert_id, world.resolved_id} <= set(everything)
    assert _ids(web.get("/alerts?state=firing").text) == [world.alert_id]
    assert _ids(web.get("/alerts?state=resolved").text) == [world.resolved_id]
    assert _ids(web.get("/alerts?labels=team%3Ddb").text) == [world.alert_id]
    assert _ids(web.get("/alerts?labels=team!%3Ddb").text) == [world.resolved_id]
    assert _ids(web.get("/alerts?detector=cpu&severity=warning&range=1h").text) == [world.alert_id]
    assert _ids(web.get("/alerts?severity=critical").text) == []
    assert _ids(web.get(f"/alerts?cursor={world.alert_id}").text) == [world.resolved_id]
    page = web.get("/alerts?state=firing").text
    assert 'value="firing" selected' in page


def test_cursor_pages_link_to_the_next_page_with_the_same_filters(web: Web, world: World, database: Any) -> None:
    from app.alerts import service as alerts
    from detectors.findings import Finding
    from tests.integration.dashboard.conftest import NOW

    with database.write() as s:
        alerts.apply(
            s,
            detector="disk",
            severity="info",
            static_labels={},
            now=NOW,
            findings=[Finding("threshold", {"n": str(i)}, "firing") for i in range(60)],
        )
    page = web.login("viewer").get("/alerts?severity=info").text
    first = _ids(page)
    assert len(first) == 50
    link = re.search(r'href="(/alerts\?[^"]*cursor=\d+[^"]*)" rel="next"', page).group(1).replace("&amp;", "&")
    assert "severity=info" in link and f"cursor={first[-1]}" in link
    second = _ids(web.get(link).text)
    assert len(second) == 10 and max(second) < min(first)


@pytest.mark.parametrize(
    "query,message",
    [
        ("state=exploded", "state must be one of"),
        ("severity=loud", "severity must be one of"),
        ("cursor=abc", "cursor must be a positive whole number"),
        ("cursor=0", "cursor must be a positive whole number"),
        ("cursor=99999999999999999999999", "cursor must be a positive whole number"),
        ("since=yesterday", "since: expected an ISO-8601 time"),
        ("since=2026-01-02&until=2026-01-01", "since must be earlier than until"),
        ("labels=%3D%3D", "expected label=value, label!=value, label=~regex or label!~regex"),
        ("label=a=~(", "invalid regex"),
        ("range=2y", "range must be one of"),
        ("detector=" + "x" * 300, "detector is too long"),
    ],
)
def test_bad_filter_values_get_a_friendly_400(web: Web, query: str, message: str) -> None:
    answer = web.login("viewer").get(f"/alerts?{query}")
    assert answer.status_code == 400 and message in answer.text
    assert "Back to alerts" in answer.text


@pytest.mark.parametrize(
    "path", ["/executions?state=bogus", "/executions?alert_id=x", "/audit?since=soon", "/audit?cursor=-1"]
)
def test_bad_filters_on_other_lists_get_a_400_too(web: Web, path: str) -> None:
    assert web.login("viewer").get(path).status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/alerts/999999",
        "/alerts/abc",
        "/alerts/0",
        "/executions/424242",
        "/executions/x1",
        "/remediations/nope",
        "/remediations/fix/versions/9",
        "/remediations/fix/versions/v1",
    ],
)
def test_unknown_ids_get_a_friendly_404(web: Web, world: World, path: str) -> None:
    answer = web.login("viewer").get(path)
    assert answer.status_code == 404 and "Not Found" in answer.text and "Back to alerts" in answer.text


def test_actions_on_unknown_ids_are_404(web: Web) -> None:
    web.login("operator")
    for path in (
        "/alerts/999999/ack",
        "/executions/999999/approve",
        "/bindings/999999/close-breaker",
        "/automation/explode",
    ):
        assert web.post(path).status_code == 404, path


def test_the_firing_json_lists_open_firing_alerts_for_the_session(web: Web, world: World) -> None:
    body = web.login("viewer").get("/alerts/firing.json").get_json()
    assert [item["id"] for item in body["items"]] == [world.alert_id]
    assert body["items"][0]["url"] == f"/alerts/{world.alert_id}" and body["items"][0]["labels"]["team"] == "db"


def test_the_alert_page_embeds_its_evidence_for_the_chart(web: Web, world: World) -> None:
    page = web.login("viewer").get(f"/alerts/{world.alert_id}").text
    data = re.search(r'<script type="application/json" id="evidence-data">(.*?)</script>', page, re.S).group(1)
    assert '"thresholds": [{"label": "above", "value": 90.0}]' in data and '"v": [50.0, 97.0]' in data
    assert "remediation.decided" in page and "awaiting approval" in page


def test_the_audit_page_says_whether_the_chain_verifies(web: Web, world: World, database: Any) -> None:
    web.login("viewer")
    assert "Hash chain verifies" in web.get("/audit").text
    with database.write() as s:
        s.execute(text("UPDATE audit_records SET actor = 'mallory' WHERE id = 1"))
    page = web.get("/audit").text
    assert "Hash chain is broken at record #1" in page
    assert "mallory" in web.get("/audit?actor=mallory").text


def test_unknown_detector_preview_is_a_json_404(web: Web) -> None:
    answer = web.login("viewer").get("/detectors/nope/preview.json")
    assert answer.status_code == 404 and answer.get_json() == {"message": "detector 'nope' not found"}
