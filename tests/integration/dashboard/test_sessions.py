"""Server-side dashboard sessions: sign-out and revocation end every copy of a cookie, at once;
redirects after sign-in stay on this site; sign-ins and sign-outs are audited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.auth import service as auth
from app.auth.models import ApiToken, DashboardSession
from app.automation.models import AutomationState
from tests.integration.dashboard.conftest import Web


def _copy(web: Web, app: Any) -> Web:
    """Another browser holding a copy of `web`'s cookie (as a thief with the cookie would)."""
    thief = Web(app.test_client(), web.tokens)
    thief.client.set_cookie("vigil_session", web.client.get_cookie("vigil_session").value)
    return thief


def test_a_copied_cookie_stops_working_when_its_owner_signs_out(app: Any, web: Web, database: Any) -> None:
    web.login("operator")
    thief = _copy(web, app)
    assert thief.get("/alerts").status_code == 200, "the copy works while the session lives"
    assert web.post("/logout").status_code == 302
    page = thief.get("/alerts")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    with database.read() as s:
        assert s.scalars(select(DashboardSession)).all() == []


def test_a_replayed_cookie_cannot_act_after_sign_out(app: Any, web: Web, database: Any) -> None:
    web.login("operator")
    kept, csrf = web.client.get_cookie("vigil_session").value, web.csrf()
    web.post("/logout")
    thief = Web(app.test_client(), web.tokens)
    thief.client.set_cookie("vigil_session", kept)
    answer = thief.client.post("/automation/pause", data={"reason": "mine now", "csrf_token": csrf})
    assert answer.status_code == 401 and "sign in again" in answer.text.lower()
    assert thief.get("/alerts").status_code == 302
    with database.read() as s:
        state = s.get(AutomationState, 1)
        assert state is None or not state.paused


def test_revoking_a_token_ends_all_its_sessions_at_once(app: Any, web: Web, client: Any, database: Any) -> None:
    other = Web(app.test_client(), web.tokens).login("operator")
    web.login("operator")
    with database.read() as s:
        token_id = s.scalar(select(ApiToken.id).where(ApiToken.name == "test-operator"))
        assert len(s.scalars(select(DashboardSession).where(DashboardSession.token_id == token_id)).all()) == 2
    assert client.as_("admin").delete(f"/api/v1/tokens/{token_id}").status_code == 200
    for browser in (web, other):
        assert browser.get("/alerts").status_code == 302
        assert browser.get("/alerts/firing.json").status_code == 401
    with database.read() as s:
        assert s.scalars(select(DashboardSession)).all() == []


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "//evil.example",
        "https://evil.example/",
        "/\r\nSet-Cookie: x=1",
        "/\n/evil.example",
        " /alerts",
        "/ /evil",
        "javascript:alert(1)",
        "/\u2215evil.example",
        "evil.example",
    ],
)
def test_sign_in_never_redirects_off_site(web: Web, target: str) -> None:
    answer = web.client.post("/login", data={"token": web.tokens["viewer"], "csrf_token": web.csrf(), "next": target})
    assert answer.status_code == 302 and answer.headers["Location"] == "/alerts"


def test_the_login_page_with_a_hostile_next_redirects_home_once_signed_in(web: Web) -> None:
    web.login("viewer")
    answer = web.client.get("/login?next=/%09/evil.example")
    assert answer.status_code == 302 and answer.headers["Location"] == "/alerts"


@pytest.mark.parametrize("target", ["/alerts?state=firing&label=team%3Ddb", "/audit?actor=x#top", "/executions"])
def test_sign_in_follows_a_plain_path_on_this_site(web: Web, target: str) -> None:
    answer = web.client.post("/login", data={"token": web.tokens["viewer"], "csrf_token": web.csrf(), "next": target})
    assert answer.headers["Location"] == target


def test_sign_in_and_sign_out_are_audited_without_the_secret(web: Web, database: Any) -> None:
    web.login("operator")
    web.post("/logout")
    web.post("/logout")  # nothing left to end: not recorded twice
    with database.read() as s:
        rows = s.scalars(
            select(AuditRecord).where(AuditRecord.action.like("dashboard.%")).order_by(AuditRecord.id)
        ).all()
    assert [(r.action, r.actor, r.target) for r in rows] == [
        ("dashboard.sign_in", "test-operator", "token:test-operator"),
        ("dashboard.sign_out", "test-operator", "token:test-operator"),
    ]
    assert rows[0].details == {"client": "127.0.0.1"}
    assert web.tokens["operator"] not in str([r.details for r in rows])
    assert auth.hash_token(web.tokens["operator"]) not in str([r.details for r in rows])
