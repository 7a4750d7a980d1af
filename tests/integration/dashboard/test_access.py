"""Sign-in, sessions, CSRF and roles of the dashboard, through the Flask test client."""

from __future__ import annotations

import os
from typing import Any

import pytest
from flask.sessions import SecureCookieSessionInterface

from app import create_app
from app.audit.models import AuditRecord
from app.auth import service as auth
from app.auth.models import ApiToken
from app.automation.models import AutomationState, Binding, Execution
from tests.conftest import make_config
from tests.integration.dashboard.conftest import Web, World

ACTIONS = [
    ("/alerts/{alert_id}/ack", {}),
    ("/executions/{execution_id}/approve", {}),
    ("/executions/{execution_id}/reject", {}),
    ("/executions/{execution_id}/cancel", {}),
    ("/bindings/{binding_id}/close-breaker", {}),
    ("/automation/pause", {"reason": "test"}),
    ("/automation/resume", {}),
    ("/bindings/{binding_id}/rehearse", {"since": "1d"}),
]
# Forms only an admin may post (tests/integration/dashboard/test_binding_forms.py checks the roles).
ADMIN_FORMS = [
    ("/bindings", {"name": "x", "remediation": "fix"}),
    ("/bindings/{binding_id}/edit", {"remediation": "fix"}),
]


def _url(template: str, world: World) -> str:
    return template.format(alert_id=world.alert_id, execution_id=world.execution_id, binding_id=world.binding_id)


def test_pages_need_sign_in_and_remember_where_you_were_going(web: Web) -> None:
    answer = web.get("/alerts?state=firing")
    assert answer.status_code == 302 and answer.headers["Location"] == "/login?next=/alerts?state%3Dfiring"
    assert web.get("/alerts/firing.json").status_code == 401


def test_a_bad_or_revoked_token_is_refused(web: Web) -> None:
    for secret in ("vgl_nope", web.tokens["revoked"], ""):
        answer = web.post("/login", {"token": secret})
        assert answer.status_code == 401 and "unknown or has been revoked" in answer.text
    assert web.get("/alerts").status_code == 302


def test_the_cookie_holds_a_session_id_never_the_token_or_its_hash(app: Any, web: Web) -> None:
    answer = web.login("viewer").get("/alerts")
    assert answer.status_code == 200 and "test-viewer" in answer.text
    cookie = web.client.get_cookie("vigil_session")
    data = SecureCookieSessionInterface().get_signing_serializer(app).loads(cookie.value)
    assert set(data) == {"sid", "csrf", "_permanent"}
    assert web.tokens["viewer"] not in str(data) and auth.hash_token(web.tokens["viewer"]) not in str(data)


def test_signing_in_follows_next_but_never_off_site(web: Web) -> None:
    csrf = web.csrf()
    answer = web.client.post(
        "/login", data={"token": web.tokens["viewer"], "csrf_token": csrf, "next": "//evil.example/x"}
    )
    assert answer.headers["Location"] == "/alerts"
    web.post("/logout")
    answer = web.post("/login", {"token": web.tokens["viewer"], "next": "/audit?actor=x"})
    assert answer.headers["Location"] == "/audit?actor=x"


def test_revoking_a_token_ends_its_dashboard_session(web: Web, database: Any) -> None:
    web.login("operator")
    assert web.get("/alerts").status_code == 200
    with database.write() as s:
        token_id = s.query(ApiToken).filter_by(name="test-operator").one().id
        auth.revoke(s, token_id=token_id, by="test")
    assert web.get("/alerts").status_code == 302


def test_logout_ends_the_session(web: Web) -> None:
    web.login("viewer")
    answer = web.post("/logout")
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert web.get("/alerts").status_code == 302


@pytest.mark.parametrize("path,form", ACTIONS + ADMIN_FORMS + [("/logout", {}), ("/login", {"token": "x"})])
def test_a_form_post_without_its_csrf_token_is_rejected(
    web: Web, world: World, path: str, form: dict[str, str]
) -> None:
    web.login("admin")
    for token in (None, "forged"):
        data = dict(form, **({"csrf_token": token} if token else {}))
        answer = web.post(_url(path, world), data, csrf=False)
        assert answer.status_code == 400 and "CSRF check failed" in answer.text


def test_a_csrf_token_from_another_session_is_rejected(app: Any, web: Web, world: World) -> None:
    other = Web(app.test_client(), web.tokens).login("operator")
    web.login("operator")
    answer = web.post(_url("/automation/pause", world), {"csrf_token": other.csrf()}, csrf=False)
    assert answer.status_code == 400


@pytest.mark.parametrize("path,form", ACTIONS)
def test_a_viewer_may_not_act(web: Web, world: World, database: Any, path: str, form: dict[str, str]) -> None:
    answer = web.login("viewer").post(_url(path, world), form)
    assert answer.status_code == 403 and "needs the operator role" in answer.text
    with database.read() as s:
        assert s.get(Execution, world.execution_id).state == "awaiting_approval"
        acts = s.query(AuditRecord).filter(
            AuditRecord.actor == "test-viewer", AuditRecord.action.notlike("dashboard.%")
        )
        assert acts.count() == 0


def test_a_viewer_sees_no_action_buttons(web: Web, world: World) -> None:
    page = web.login("viewer").get(f"/alerts/{world.alert_id}").text
    assert "awaiting approval" in page
    for label in (">Approve<", ">Reject<", ">Acknowledge<", ">Pause automation<"):
        assert label not in page
    assert ">Close breaker<" not in web.get("/remediations").text


def test_operator_actions_go_through_the_services_as_the_signed_in_token(web: Web, world: World, database: Any) -> None:
    web.login("operator")
    assert ">Approve<" in web.get(f"/alerts/{world.alert_id}").text
    for path, form in [ACTIONS[0], ACTIONS[1], ACTIONS[4], ACTIONS[5]]:
        answer = web.post(_url(path, world), {**form, "next": f"/alerts/{world.alert_id}"})
        assert answer.status_code == 302 and answer.headers["Location"] == f"/alerts/{world.alert_id}"
    with database.read() as s:
        execution = s.get(Execution, world.execution_id)
        assert (execution.state, execution.approved_by) == ("queued", "test-operator")
        assert s.get(Binding, world.binding_id).breaker_open is False
        assert s.get(AutomationState, 1).paused is True
        actions = {r.action for r in s.query(AuditRecord).filter(AuditRecord.actor == "test-operator")}
    assert actions == {
        "dashboard.sign_in",
        "alert.ack",
        "execution.approve",
        "binding.breaker_close",
        "automation.pause",
    }
    page = web.get("/executions").text
    assert "Automation is paused" in page and "test" in page


def test_a_conflicting_action_is_explained_not_a_crash(web: Web, world: World) -> None:
    web.login("operator")
    web.post(_url("/executions/{execution_id}/approve", world))
    answer = web.post(_url("/executions/{execution_id}/reject", world))
    assert answer.status_code == 302
    page = web.get(answer.headers["Location"]).text
    assert f"cannot reject execution {world.execution_id}: it is queued" in page
    answer = web.post(f"/alerts/{world.resolved_id}/ack")
    assert "is resolved; there is nothing to acknowledge" in web.get(answer.headers["Location"]).text


def test_cookies_are_httponly_lax_and_secure_behind_https(
    tmp_path: Any, database_url: str, database: Any, tokens: dict[str, str]
) -> None:
    for public_url, secure in (("http://127.0.0.1:8000", False), ("https://vigil.example", True)):
        app = create_app(make_config(tmp_path, database_url, settings={"public_url": public_url}))
        web = Web(app.test_client(), tokens)
        web.get("/login")
        answer = web.post("/login", {"token": tokens["viewer"]})
        cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and ("Secure" in cookie) is secure
        app.extensions["vigil.db"].dispose()


def test_the_secret_key_is_made_once_and_shared(tmp_path: Any, database_url: str, database: Any) -> None:
    first = create_app(make_config(tmp_path, database_url))
    second = create_app(make_config(tmp_path, database_url))
    path = tmp_path / "data" / "secret_key"
    assert first.secret_key == second.secret_key == path.read_text().strip()
    assert os.stat(path).st_mode & 0o777 == 0o600
    configured = create_app(make_config(tmp_path, database_url, settings={"secret_key": "s" * 40}))
    assert configured.secret_key == "s" * 40
    for app in (first, second, configured):
        app.extensions["vigil.db"].dispose()


def test_guessing_tokens_at_the_login_form_is_slowed_down_but_the_right_token_gets_in(app, tokens) -> None:
    from app.auth import ratelimit
    from tests.integration.dashboard.conftest import Web

    ratelimit._failures.clear()
    web = Web(app.test_client(), tokens)
    statuses = [web.post("/login", {"token": f"vgl_guess{i}"}).status_code for i in range(ratelimit.MAX_FAILURES + 1)]
    assert statuses[: ratelimit.MAX_FAILURES] == [401] * ratelimit.MAX_FAILURES and statuses[-1] == 429
    assert int(web.post("/login", {"token": "vgl_again"}).headers["Retry-After"]) > 0
    assert web.post("/login", {"token": tokens["admin"]}).status_code == 302  # a valid token never waits
    ratelimit._failures.clear()
