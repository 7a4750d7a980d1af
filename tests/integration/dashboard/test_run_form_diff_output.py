"""The run form built from a params schema, the diff of two versions, a running script's output."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from app.audit.models import AuditRecord
from app.automation import registry
from app.automation.models import Execution
from app.dashboard import schema_form
from app.db import utcnow
from remediations import parse_manifest
from tests.helpers import Client
from tests.integration.automation.conftest import Automation
from tests.integration.dashboard.conftest import Web, World

SCHEMA = {
    "type": "object",
    "required": ["service", "replicas"],
    "additionalProperties": False,
    "properties": {
        "service": {"type": "string", "description": "systemd unit", "pattern": "^[a-z-]+$"},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 20},
        "mode": {"enum": ["graceful", "hard"], "default": "graceful"},
        "drain": {"type": "boolean"},
        "weight": {"type": "number"},
        "tags": {"type": "array"},
    },
}


def _register(database: Any, name: str, script: str, **fields: Any) -> None:
    with database.write() as s:
        registry.register(
            s, manifest=parse_manifest({"name": name, "script": script, **fields}), by="seed", now=utcnow()
        )


def test_the_form_has_one_typed_input_per_property_required_first() -> None:
    inputs = schema_form.fields(SCHEMA)
    assert [(f.name, f.kind, f.required) for f in inputs] == [
        ("service", "text", True),
        ("replicas", "integer", True),
        ("mode", "select", False),
        ("drain", "boolean", False),
        ("weight", "number", False),
        ("tags", "json", False),
    ]
    assert inputs[1].hint == "integer ≥ 1, ≤ 20" and inputs[2].choices == ("graceful", "hard")
    params, errors = schema_form.params(
        inputs,
        {"p-service": "api", "p-replicas": "3", "p-drain": "true", "p-weight": "0.5", "p-tags": '["a"]', "p-mode": ""},
    )
    assert params == {"service": "api", "replicas": 3, "drain": True, "weight": 0.5, "tags": ["a"]} and not errors
    _params, errors = schema_form.params(inputs, {"p-mode": "nuke", "p-tags": "[oops"})
    assert set(errors) == {"$.mode", "$.tags"}


def test_an_operator_runs_a_remediation_from_the_form_validated_like_the_api(
    web: Web, database: Any, world: World
) -> None:
    _register(database, "scale", "#!/bin/sh\ncat\n", params_schema=SCHEMA, description="scale a service")
    web.login("viewer")
    assert web.get("/remediations/scale/run").status_code == 403
    assert 'id="run-link"' not in web.get("/remediations/scale").text
    web.login("operator")
    page = web.get("/remediations/scale/run")
    assert page.status_code == 200 and 'name="p-replicas"' in page.text and 'inputmode="numeric"' in page.text
    assert '<option value="graceful" selected>' in page.text  # the schema's default
    refused = web.post("/remediations/scale/run", {"p-service": "API!", "p-replicas": "many"})
    assert refused.status_code == 400
    assert "does not match" in refused.text and "is not of type" in refused.text  # jsonschema's own words
    assert 'value="many"' in refused.text and 'aria-invalid="true"' in refused.text  # kept to correct
    with database.read() as s:
        assert s.query(Execution).filter(Execution.remediation == "scale").count() == 0
    answer = web.post(
        "/remediations/scale/run",
        {"p-service": "api", "p-replicas": "3", "p-mode": "hard", "alert_id": str(world.alert_id)},
    )
    assert answer.status_code == 302 and "/executions/" in answer.headers["Location"]
    with database.read() as s:
        run = s.query(Execution).filter(Execution.remediation == "scale").one()
        assert run.params == {"service": "api", "replicas": 3, "mode": "hard"} and run.alert_id == world.alert_id
        assert run.state == "queued" and run.triggered_by == "test-operator"
        record = s.query(AuditRecord).filter(AuditRecord.action == "remediation.run").one()
        assert record.target == f"execution:{run.id}"
    unknown = web.post("/remediations/scale/run", {"p-service": "api", "p-replicas": "2", "alert_id": "999999"})
    assert unknown.status_code == 404 and "alert 999999 not found" in unknown.text and 'value="api"' in unknown.text
    assert web.get("/remediations/nothing/run").status_code == 404


def test_two_versions_compare_as_an_escaped_unified_diff(web: Web, database: Any) -> None:
    _register(database, "clean", "#!/bin/sh\necho one\necho two\n")
    _register(database, "clean", "#!/bin/sh\necho one\necho '<script>alert(1)</script>'\n", timeout_s=30)
    web.login("viewer")
    page = web.get("/remediations/clean/diff?from=1&to=2")
    assert page.status_code == 200
    assert '<span class="ln del">-echo two</span>' in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert(1)" not in page.text
    assert 'id="manifest-changes"' in page.text and "timeout_s" in page.text
    assert "diff with v1" in web.get("/remediations/clean").text
    assert web.get("/remediations/clean/diff?from=1&to=9").status_code == 404
    assert web.get("/remediations/clean/diff?from=1").status_code == 400
    assert "identical" in web.get("/remediations/clean/diff?from=2&to=2").text


def test_the_execution_page_follows_a_running_script_through_the_real_runner(
    web: Web, database: Any, tmp_path: Path, app: Any, tokens: dict[str, str]
) -> None:
    go = tmp_path / "go"
    automation = Automation(database, tmp_path)
    try:
        automation.register(script=f"#!/bin/sh\necho first\nwhile [ ! -e {go} ]; do sleep 0.05; done\necho second\n")
        automation.bind()
        automation.fire()
        (execution,) = automation.executions()
        web.login("viewer")
        page = web.get(f"/executions/{execution.id}")
        assert 'id="live-output"' in page.text
        url = f"/executions/{execution.id}/output.json"
        seen = _poll(web, f"{url}?offset=0", lambda d: "first" in d["text"])
        api_seen = (
            Client(app.test_client(), tokens)
            .as_("viewer")
            .get(f"/api/v1/executions/{execution.id}/output?offset=0")
            .json
        )
        assert api_seen["state"] == "running" and api_seen["text"].startswith("first\n")
        assert seen["state"] == "running" and not seen["done"] and seen["text"] == "first\n"
        assert web.get(f"{url}?offset={seen['offset']}").json["text"] == ""  # nothing new yet
        go.touch()
        final = _poll(web, f"{url}?offset={seen['offset']}", lambda d: d["done"])
        assert final["reset"] and final["text"] == "first\nsecond\n" and final["state"] == "succeeded"
        assert 'id="live-output"' not in web.get(f"/executions/{execution.id}").text
        api = Client(app.test_client(), tokens).as_("viewer")
        answer = api.get(f"/api/v1/executions/{execution.id}/output?offset=6")
        assert answer.status_code == 200 and answer.json["text"] == "first\nsecond\n" and answer.json["reset"]
        assert api.get(f"/api/v1/executions/{execution.id}/output?offset=-1").status_code == 400
        assert web.get(f"{url}?offset=-1").status_code == 400
        assert web.get("/executions/999999/output.json").status_code == 404
    finally:
        go.touch()
        automation.backend.shutdown(wait=True)


def _poll(web: Web, url: str, done: Any, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        data: dict[str, Any] = web.get(url).json
        if done(data):
            return data
        time.sleep(0.05)
    raise AssertionError(f"{url} never got there: {data}")
