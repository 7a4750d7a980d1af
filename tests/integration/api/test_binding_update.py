"""PUT /api/v1/bindings/<id>: an admin replaces a binding's settings with the body POST takes;
the change is audited with what changed, and a config-file binding stays the file's."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from app.automation import bindings
from config.schema import BindingConfig

SCRIPT = "#!/bin/sh\necho hello\n"
SPEC = {
    "name": "b1",
    "remediation": "fix",
    "mode": "approve",
    "cooldown": "5m",
    "matchers": {"team": "sre"},
    "rate_limit": 2,
}


def created(client: Any) -> int:
    assert client.post("/api/v1/remediations", json={"name": "fix", "script": SCRIPT}).status_code == 201
    answer = client.post("/api/v1/bindings", json=SPEC)
    assert answer.status_code == 201
    return int(answer.json["id"])


def test_an_admin_replaces_a_bindings_settings_and_the_change_is_audited(client: Any) -> None:
    number = created(client)
    new = {
        "name": "b1",
        "remediation": "fix",
        "mode": "auto",
        "cooldown": "1m",
        "matchers": {"team": "~sre|ops"},
        "severities": ["critical"],
    }

    answer = client.as_("admin").put(f"/api/v1/bindings/{number}", json=new)

    assert answer.status_code == 200
    body = answer.json
    assert (body["id"], body["mode"], body["cooldown_s"], body["matchers"], body["severities"]) == (
        number,
        "auto",
        60.0,
        {"team": "~sre|ops"},
        ["critical"],
    )
    default = BindingConfig(name="x", remediation="fix").rate_limit
    assert body["rate_limit"] == default != 2, "a field the body leaves out is replaced by its default"
    assert client.as_("viewer").get(f"/api/v1/bindings/{number}").json == body
    audit = client.get("/api/v1/audit?action=binding.update").json["items"]
    assert [(r["actor"], r["target"]) for r in audit] == [("test-admin", "binding:b1")]
    assert audit[0]["details"]["changed"]["mode"] == {"from": "approve", "to": "auto"}
    assert audit[0]["details"]["changed"]["cooldown_s"] == {"from": 300.0, "to": 60.0}


def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(client: Any) -> None:
    number = created(client)
    url = f"/api/v1/bindings/{number}"

    bad_duration = client.put(url, json={**SPEC, "cooldown": "soon"})
    bad_regex = client.put(url, json={**SPEC, "matchers": {"team": "~("}})
    unknown_key = client.put(url, json={**SPEC, "colour": "red"})
    missing = client.put(url, json={"name": "b1"})
    renamed = client.put(url, json={**SPEC, "name": "b2"})

    assert bad_duration.status_code == 400 and "cooldown" in bad_duration.json["errors"]
    assert bad_regex.status_code == 400 and "matchers.team" in bad_regex.json["errors"]
    assert unknown_key.status_code == 400 and "colour" in unknown_key.json["message"] + str(unknown_key.json["errors"])
    assert missing.status_code == 400 and "remediation" in missing.json["errors"]
    assert renamed.status_code == 400 and renamed.json["errors"] == {"name": "cannot be changed"}
    assert client.get(url).json["cooldown_s"] == 300.0
    assert client.get("/api/v1/audit?action=binding.update").json["items"] == []


def test_a_missing_binding_is_a_404_and_a_config_file_binding_a_409(client: Any, app: Any) -> None:
    created(client)
    with app.extensions["vigil.db"].write() as session:
        from_file = bindings.create(
            session,
            spec=BindingConfig(name="from-file", remediation="fix"),
            by="config",
            now=datetime(2026, 11, 1, tzinfo=timezone.utc),
            origin="config",
        ).id

    missing = client.put("/api/v1/bindings/999999", json=SPEC)
    in_file = client.put(
        f"/api/v1/bindings/{from_file}", json={"name": "from-file", "remediation": "fix", "mode": "auto"}
    )

    assert missing.status_code == 404 and "999999" in missing.json["message"]
    assert in_file.status_code == 409 and "edit it there" in in_file.json["message"]
    assert client.get(f"/api/v1/bindings/{from_file}").json["mode"] != "auto"


def test_only_an_admin_may_replace_a_binding(client: Any) -> None:
    number = created(client)
    for role in ("viewer", "operator"):
        answer = client.as_(role).put(f"/api/v1/bindings/{number}", json={**SPEC, "mode": "auto"})
        assert answer.status_code == 403
    assert client.as_(None).put(f"/api/v1/bindings/{number}", json=SPEC).status_code == 401
    assert client.as_("viewer").get(f"/api/v1/bindings/{number}").json["mode"] == "approve"
