"""The audit log's filters and pages, as the API serves them through app.audit.service.search
(the dashboard's audit page and CSV read the same query)."""

from __future__ import annotations

from typing import Any


def _ids(client: Any, query: str) -> list[int]:
    answer = client.get(f"/api/v1/audit?{query}")
    assert answer.status_code == 200, answer.json
    return [r["id"] for r in answer.json["items"]]


def test_filters_combine_and_pages_follow_the_cursor_without_gaps_or_repeats(client: Any) -> None:
    made = [client.post("/api/v1/tokens", json={"name": f"bot-{i}", "role": "viewer"}).json for i in range(5)]
    for token in made[:3]:
        assert client.delete(f"/api/v1/tokens/{token['id']}").status_code == 200
    revoked = _ids(client, "action=token.revoke")
    assert revoked == sorted(revoked, reverse=True)  # newest first
    ours = [_ids(client, f"action=token.revoke&target=token:bot-{i}") for i in (2, 1, 0)]
    assert ours == [[revoked[0]], [revoked[1]], [revoked[2]]]  # revoked bot-0, then 1, then 2
    assert _ids(client, "action=token.create&actor=nobody") == []
    everything = _ids(client, "limit=200")
    assert len(everything) >= 8 and set(revoked) < set(everything)
    first = client.get("/api/v1/audit?limit=3").json
    second = client.get(f"/api/v1/audit?limit=3&cursor={first['next_cursor']}").json
    assert [r["id"] for r in first["items"] + second["items"]] == everything[:6]
    last = client.get(f"/api/v1/audit?limit=200&cursor={everything[-2]}").json
    assert [r["id"] for r in last["items"]] == [everything[-1]] and last["next_cursor"] is None
    assert _ids(client, "limit=200&since=2000-01-01T00:00:00Z") == everything
    assert _ids(client, "limit=200&until=2000-01-01T00:00:00Z") == []


def test_executions_filter_by_remediation_and_state_and_page_by_cursor(client: Any) -> None:
    for name in ("fix", "other"):
        assert (
            client.post("/api/v1/remediations", json={"name": name, "script": "#!/bin/sh\ntrue\n"}).status_code == 201
        )
    runs = [
        client.as_("operator").post(f"/api/v1/remediations/{n}/run", json={}).json["id"]
        for n in ["fix"] * 3 + ["other"]
    ]
    fix = [e["id"] for e in client.get("/api/v1/executions?remediation=fix").json["items"]]
    assert fix == sorted(runs[:3], reverse=True)
    first = client.get("/api/v1/executions?remediation=fix&limit=2").json
    rest = client.get(f"/api/v1/executions?remediation=fix&limit=2&cursor={first['next_cursor']}").json
    assert [e["id"] for e in first["items"] + rest["items"]] == fix and rest["next_cursor"] is None
    states = {e["state"] for e in client.get("/api/v1/executions").json["items"]}
    state = states.pop()
    assert all(e["state"] == state for e in client.get(f"/api/v1/executions?state={state}").json["items"])
    assert client.get("/api/v1/executions?remediation=nope").json["items"] == []
