"""Bindings created and edited in the dashboard: admin only, checked and audited as the API does it."""

from __future__ import annotations

from typing import Any

import pytest

from app.audit.models import AuditRecord
from app.automation import bindings
from app.automation.models import Binding
from app.dashboard import binding_form
from config.schema import BindingConfig
from tests.integration.dashboard.conftest import NOW, Web, World

GOOD = {
    "name": "restart-web",
    "remediation": "fix",
    "mode": "auto",
    "kind": "remediation",
    "detector": "cpu",
    "matchers": "team=db\ninstance=~web-.*",
    "params": '{"grace": 5}',
    "cooldown": "10m",
    "rate_limit": "2",
    "rate_window": "2h",
    "breaker_threshold": "4",
    "approval_timeout": "30m",
    "queue": "default",
    "enabled": "on",
}


def _post(web: Web, url: str, form: dict[str, Any]) -> Any:
    return web.client.post(url, data={**form, "csrf_token": web.csrf()})


def _binding(database: Any, name: str) -> Binding | None:
    with database.read() as s:
        row: Binding | None = s.query(Binding).filter_by(name=name).one_or_none()
        if row is not None:
            s.expunge(row)
        return row


def test_the_form_text_becomes_the_api_payload() -> None:
    class Form(dict[str, str]):
        def getlist(self, key: str) -> list[str]:
            return ["critical"] if key == "severities" else []

    values, errors = binding_form.payload(Form(GOOD))
    assert not errors and values["matchers"] == {"team": "db", "instance": "~web-.*"}
    assert values["params"] == {"grace": 5} and values["severities"] == ["critical"] and values["enabled"] is True
    assert bindings.parse(values).cooldown == 600.0
    _values, errors = binding_form.payload(Form({"matchers": "team", "params": "{oops"}))
    assert set(errors) == {"matchers", "params"}
    assert binding_form.seconds(300.0) == "5m" and binding_form.seconds(90.0) == "90s"


def test_an_admin_creates_a_binding_from_the_form_and_it_is_audited(web: Web, world: World, database: Any) -> None:
    web.login("admin")
    assert 'id="new-binding"' in web.get("/remediations/fix").text
    page = web.get("/bindings/new?remediation=fix")
    assert page.status_code == 200 and '<option value="fix" selected>' in page.text
    answer = _post(web, "/bindings", {**GOOD, "severities": ["warning", "critical"]})
    assert answer.status_code == 302, answer.text
    row = _binding(database, "restart-web")
    assert row is not None and answer.headers["Location"] == f"/bindings/{row.id}"
    assert (row.mode, row.cooldown_s, row.rate_limit, row.approval_timeout_s) == ("auto", 600.0, 2, 1800.0)
    assert row.matchers == {"team": "db", "instance": "~web-.*"} and row.severities == ["warning", "critical"]
    assert row.params == {"grace": 5} and row.created_by == "test-admin" and row.origin == "dashboard"
    assert "restart-web" in web.get("/remediations").text
    with database.read() as s:
        audit = s.query(AuditRecord).filter_by(action="binding.create", target="binding:restart-web").one()
        assert audit.actor == "test-admin"


def test_refused_input_is_shown_per_field_and_nothing_is_saved(web: Web, world: World, database: Any) -> None:
    web.login("admin")
    bad = {
        **GOOD,
        "name": "bad name!",
        "mode": "yolo",
        "cooldown": "soon",
        "rate_limit": "0",
        "matchers": "instance=~(unclosed",
    }
    answer = _post(web, "/bindings", bad)
    assert answer.status_code == 400
    for field in ("name", "mode", "cooldown", "rate_limit"):
        assert f'id="b-{field}-error"' in answer.text, field
    assert 'value="soon"' in answer.text  # kept to correct
    assert _binding(database, "bad name!") is None
    # The regex is checked by the service once the rest is valid, and shown under its input too.
    answer = _post(web, "/bindings", {**GOOD, "matchers": "instance=~(unclosed"})
    assert answer.status_code == 400 and 'id="b-matchers-error"' in answer.text
    answer = _post(web, "/bindings", {**GOOD, "name": "fix-it"})  # the world's binding
    assert answer.status_code == 409 and "already taken" in answer.text
    answer = _post(web, "/bindings", {**GOOD, "when_suspect": '{"labels": {}}'})
    assert answer.status_code == 400 and 'id="b-when_suspect-error"' in answer.text
    assert _binding(database, "restart-web") is None


def test_an_admin_edits_a_binding_and_the_change_is_audited(web: Web, world: World, database: Any) -> None:
    web.login("admin")
    assert 'id="edit-binding"' in web.get(f"/bindings/{world.binding_id}").text
    page = web.get(f"/bindings/{world.binding_id}/edit")
    assert page.status_code == 200 and '<option value="approve" selected>' in page.text
    assert 'value="5m"' in page.text  # the cooldown as the config file says it
    form = {**GOOD, "name": "renamed", "mode": "shadow", "matchers": "", "params": "", "cooldown": "1m"}
    answer = _post(web, f"/bindings/{world.binding_id}/edit", form)
    assert answer.status_code == 302 and answer.headers["Location"] == f"/bindings/{world.binding_id}"
    row = _binding(database, "fix-it")  # a binding keeps its name
    assert row is not None and (row.mode, row.cooldown_s, row.matchers) == ("shadow", 60.0, {})
    assert row.breaker_open  # settings change; the breaker's state is not a setting
    with database.read() as s:
        audit = s.query(AuditRecord).filter_by(action="binding.update", target="binding:fix-it").one()
        assert audit.actor == "test-admin" and audit.details["changed"]["mode"] == {"from": "approve", "to": "shadow"}
    refused = _post(web, f"/bindings/{world.binding_id}/edit", {**form, "rate_window": "-1h"})
    assert refused.status_code == 400 and 'id="b-rate_window-error"' in refused.text


def test_a_config_file_binding_is_edited_in_the_file(web: Web, world: World, database: Any) -> None:
    with database.write() as s:
        number = bindings.create(
            s, spec=BindingConfig(name="from-file", remediation="fix"), by="config", now=NOW, origin="config"
        ).id
    web.login("admin")
    assert 'id="edit-binding"' not in web.get(f"/bindings/{number}").text
    answer = _post(web, f"/bindings/{number}/edit", GOOD)
    assert answer.status_code == 409 and "edit it there" in answer.text


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_an_admin_may_create_or_edit(web: Web, world: World, database: Any, role: str) -> None:
    web.login(role)
    assert 'id="new-binding"' not in web.get("/remediations").text
    assert 'id="edit-binding"' not in web.get(f"/bindings/{world.binding_id}").text
    for url in ("/bindings/new", f"/bindings/{world.binding_id}/edit"):
        assert web.get(url).status_code == 403
    for url in ("/bindings", f"/bindings/{world.binding_id}/edit"):
        answer = _post(web, url, GOOD)
        assert answer.status_code == 403 and "needs the admin role" in answer.text
    assert _binding(database, "restart-web") is None
    row = _binding(database, "fix-it")
    assert row is not None and row.mode == "approve"


def test_an_unknown_binding_is_a_404_page(web: Web, world: World) -> None:
    web.login("admin")
    assert web.get("/bindings/999999/edit").status_code == 404
    assert _post(web, "/bindings/nope/edit", GOOD).status_code == 404
