SCRIPT = "#!/bin/sh\necho hello\n"
SCHEMA = {
    "type": "object",
    "properties": {"unit": {"type": "string", "pattern": "^[a-z]+$"}},
    "required": ["unit"],
    "additionalProperties": False,
}


def register(client, **fields):
    return client.post("/api/v1/remediations", json={"name": "fix", "script": SCRIPT, **fields})


def test_registering_creates_versions_and_identical_content_is_a_no_op(client) -> None:
    first = register(client, description="restart it")
    assert first.status_code == 201 and first.json["version"] == 1
    again = register(client, description="restart it")
    assert again.status_code == 200 and again.json["hash"] == first.json["hash"] and not again.json["created"]
    second = register(client, script="#!/bin/sh\necho v2\n")
    assert second.status_code == 201 and second.json["version"] == 2
    detail = client.as_("viewer").get("/api/v1/remediations/fix").json
    assert [v["version"] for v in detail["versions"]] == [1, 2]
    assert all(v["created_by"] == "test-admin" for v in detail["versions"])
    assert client.get("/api/v1/remediations/fix/versions/1").json["script"] == SCRIPT


def test_registration_needs_admin_and_validates_the_script(client) -> None:
    assert register(client.as_("operator")).status_code == 403
    no_shebang = client.post("/api/v1/remediations", json={"name": "x", "script": "echo hi\n"})
    assert no_shebang.status_code == 400 and "script" in no_shebang.json["errors"]
    nul = client.post("/api/v1/remediations", json={"name": "x", "script": "#!/bin/sh\necho \u0000\n"})
    assert nul.status_code == 400 and "script" in nul.json["errors"]
    bad_schema = register(client, params_schema={"type": "nonsense"})
    assert bad_schema.status_code == 400 and "params_schema" in bad_schema.json["errors"]
    assert client.get("/api/v1/remediations").json == []


def test_a_shipped_builtin_can_be_registered_by_name(client) -> None:
    names = [b["name"] for b in client.get("/api/v1/remediations/builtins").json]
    assert {"echo", "http_call", "restart_systemd_unit", "clean_old_files"} <= set(names)
    answer = client.post("/api/v1/remediations", json={"name": "say", "builtin": "echo"})
    assert answer.status_code == 201 and answer.json["builtin"] == "echo"
    unknown = client.post("/api/v1/remediations", json={"name": "z", "builtin": "nope"})
    assert unknown.status_code == 400 and "builtin" in unknown.json["errors"]


def test_manual_runs_validate_params_and_dry_run_renders_only(client) -> None:
    register(client, params_schema=SCHEMA)
    bad = client.as_("operator").post("/api/v1/remediations/fix/run", json={"params": {"unit": "Bad Unit"}})
    assert bad.status_code == 400 and "$.unit" in bad.json["errors"]
    dry = client.as_("operator").post(
        "/api/v1/remediations/fix/run", json={"params": {"unit": "nginx"}, "dry_run": True}
    )
    assert dry.status_code == 200 and dry.json["stdin"] == {"params": {"unit": "nginx"}}
    assert client.get("/api/v1/executions").json["items"] == []
    queued = client.as_("operator").post("/api/v1/remediations/fix/run", json={"params": {"unit": "nginx"}})
    assert queued.status_code == 202 and queued.json["state"] == "queued"
    assert client.as_("viewer").post("/api/v1/remediations/fix/run", json={}).status_code == 403


def test_execution_actions_check_state_and_role(client) -> None:
    register(client)
    execution = client.as_("operator").post("/api/v1/remediations/fix/run", json={}).json
    assert client.as_("viewer").post(f"/api/v1/executions/{execution['id']}/cancel").status_code == 403
    approve = client.as_("operator").post(f"/api/v1/executions/{execution['id']}/approve")
    assert approve.status_code == 409 and "queued" in approve.json["message"]
    cancelled = client.as_("operator").post(f"/api/v1/executions/{execution['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json["state"] == "cancelled"
    assert client.get(f"/api/v1/executions/{execution['id']}").json["reason"] == "cancelled by test-operator"
    assert client.get("/api/v1/executions/4242").status_code == 404


def test_disable_stops_runs_until_a_new_version(client) -> None:
    register(client)
    assert client.post("/api/v1/remediations/fix/disable").json["disabled"] is True
    refused = client.as_("operator").post("/api/v1/remediations/fix/run", json={})
    assert refused.status_code == 409
    register(client, script="#!/bin/sh\necho v2\n")
    assert client.as_("operator").post("/api/v1/remediations/fix/run", json={}).status_code == 202


def test_bindings_crud_and_pause_switch(client) -> None:
    register(client)
    created = client.post(
        "/api/v1/bindings",
        json={"name": "b1", "remediation": "fix", "mode": "auto", "cooldown": "5m", "matchers": {"team": "~sre|ops"}},
    )
    assert created.status_code == 201 and created.json["cooldown_s"] == 300
    bad = client.post("/api/v1/bindings", json={"name": "b2", "remediation": "fix", "cooldown": "soon"})
    assert bad.status_code == 400 and "cooldown" in bad.json["errors"]
    bad_regex = client.post("/api/v1/bindings", json={"name": "b3", "remediation": "fix", "matchers": {"a": "~("}})
    assert bad_regex.status_code == 400
    assert client.as_("operator").post("/api/v1/bindings", json={"name": "b4", "remediation": "fix"}).status_code == 403
    assert client.as_("operator").post("/api/v1/automation/pause", json={"reason": "deploy"}).json["paused"]
    state = client.as_("viewer").get("/api/v1/automation").json
    assert state["paused"] and state["changed_by"] == "test-operator" and state["reason"] == "deploy"
    assert not client.as_("operator").post("/api/v1/automation/resume", json={}).json["paused"]
    assert client.delete(f"/api/v1/bindings/{created.json['id']}").status_code == 204
