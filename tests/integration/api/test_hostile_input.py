"""Hostile input gets a 400 naming the field, never a 500 and never a stored value that
breaks later: NUL and lone surrogates (PostgreSQL cannot store them), deep nesting, NaN and
infinite numbers, times with no UTC equivalent, oversized alerts, CR/LF in a redirect."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app import create_app
from app.db import Database, utcnow
from app.ingest import service
from tests.conftest import make_config
from tests.helpers import Client

TOKEN = "hostile-ingest-token-0123456789"
NUL = "a\u0000b"


@pytest.fixture
def hostile(tmp_path: Any, database_url: str, database: Database, tokens: dict[str, str]) -> Any:
    """An admin client whose app also takes Alertmanager and generic webhooks with TOKEN."""
    config = make_config(
        tmp_path,
        database_url,
        ingest={"alertmanager": {"token": TOKEN}, "grafana": {"token": TOKEN}, "generic": {"token": TOKEN}},
    )
    return Client(create_app(config).test_client(), tokens), config


def post_ingest(client: Client, path: str, body: Any) -> Any:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.as_(None).post(
        f"/api/v1/ingest/{path}",
        data=data,
        content_type="application/json",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


def am(**alert: Any) -> dict[str, Any]:
    base = {
        "status": "firing",
        "labels": {"alertname": "Disk", "instance": "db-1"},
        "annotations": {},
        "startsAt": "2026-11-01T12:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
    }
    return {"version": "4", "status": "firing", "alerts": [{**base, **alert}]}


def generic(**alert: Any) -> dict[str, Any]:
    return {"alerts": [{"name": "disk", "status": "firing", **alert}]}


def inbox_size(client: Client) -> int:
    return len(client.get("/api/v1/ingest/inbox").json["items"])


def assert_400(answer: Any, field: str, fragment: str = "") -> None:
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert set(answer.json) == {"message", "errors"}
    assert field in answer.json["errors"], answer.json
    assert fragment in answer.json["errors"][field], answer.json


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("alertmanager", am(labels={"alertname": "Disk", "instance": NUL}), "alerts[0].labels.instance"),
        ("alertmanager", am(annotations={"summary": NUL}), "alerts[0].annotations.summary"),
        ("alertmanager", am(generatorURL=NUL), "alerts[0].generatorURL"),
        ("generic", generic(labels={"team": NUL}), "alerts[0].labels.team"),
        ("generic", generic(summary=NUL), "alerts[0].summary"),
        ("generic", generic(labels={NUL: "x"}), "alerts[0].labels.a\\u0000b"),
    ],
)
def test_it_refuses_a_nul_anywhere_in_an_ingested_alert_and_stores_nothing(
    hostile: Any, path: str, body: Any, field: str
) -> None:
    client, _config = hostile
    assert_400(post_ingest(client, path, body), field, "NUL")
    assert inbox_size(client) == 0


def test_it_refuses_nul_in_every_stored_text_of_the_api(hostile: Any) -> None:
    client, _config = hostile
    assert_400(client.post("/api/v1/automation/pause", json={"reason": NUL}), "reason", "NUL")
    assert client.get("/api/v1/automation").json["paused"] is False
    assert_400(client.post("/api/v1/automation/resume", json={"reason": NUL}), "reason", "NUL")
    silence = {"matchers": [{"name": "job", "value": "api"}], "duration": "1h", "comment": NUL}
    assert_400(client.post("/api/v1/silences", json=silence), "comment", "NUL")
    silence = {**silence, "comment": "ok", "matchers": [{"name": "job", "value": NUL}]}
    assert_400(client.post("/api/v1/silences", json=silence), "matchers[0].value", "NUL")
    script = {"name": "fix", "script": "#!/bin/sh\necho hi\n", "description": NUL}
    assert_400(client.post("/api/v1/remediations", json=script), "description", "NUL")
    assert_400(client.post("/api/v1/tokens", json={"name": "x", "role": "viewer", NUL: 1}), "a\\u0000b", "NUL")


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/alerts?detector=a%00b", "detector"),
        ("/api/v1/audit?actor=a%00b", "actor"),
        ("/api/v1/audit?action=a%00b", "action"),
        ("/api/v1/executions?remediation=a%00", "remediation"),
        ("/api/v1/notifications?channel=%00", "channel"),
        ("/api/v1/alerts?label=job%3Da%00", "label"),
        ("/api/v1/remediations/a%00b", "name"),
        ("/api/v1/alerts?a%00b=1", "a\\u0000b"),
    ],
)
def test_it_refuses_nul_in_query_filters_and_paths_naming_them(hostile: Any, url: str, field: str) -> None:
    client, _config = hostile
    assert_400(client.get(url), field, "NUL")


def test_it_refuses_a_nul_in_a_dashboard_form_without_a_500(hostile: Any) -> None:
    client, _config = hostile
    answer = client.as_(None).post("/login", data={"token": NUL})
    assert answer.status_code == 400


def test_it_refuses_deeply_nested_json_before_anything_recurses_on_it(hostile: Any) -> None:
    client, _config = hostile
    deep = "[" * 100_000 + "]" * 100_000
    assert_400(post_ingest(client, "generic", deep), "body", "nested")
    assert_400(client.post("/api/v1/silences", data=deep, content_type="application/json"), "body", "nested")
    nested: Any = "x"
    for _ in range(70):
        nested = {"k": nested}
    assert_400(client.post("/api/v1/bindings", json={"name": "b", "params": nested}), "params" + ".k" * 63, "nested")


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_it_refuses_numbers_json_cannot_carry_back(hostile: Any, raw: str) -> None:
    client, _config = hostile
    body = '{"alerts": [{"name": "disk", "status": "firing", "value": %s}]}' % raw
    assert_400(post_ingest(client, "generic", body), "alerts[0].value", "finite")
    assert_400(post_ingest(client, "generic", generic(value=raw.lower().replace("1e999", "inf"))), "alerts[0].value")
    assert inbox_size(client) == 0


def test_a_nan_in_grafanas_value_string_is_no_value_and_the_alert_list_stays_json(
    hostile: Any, database: Database
) -> None:
    client, config = hostile
    answer = post_ingest(client, "grafana", am(valueString="[ var='A' labels={} value=NaN ]"))
    assert answer.status_code == 202
    with database.write() as session:
        service.process(session, config, now=utcnow())
    listed = client.get("/api/v1/alerts")
    assert listed.status_code == 200 and "NaN" not in listed.get_data(as_text=True)
    assert [a["value"] for a in json.loads(listed.get_data(as_text=True))["items"]] == [None]


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_it_refuses_a_time_with_no_utc_equivalent(hostile: Any, when: str) -> None:
    client, _config = hostile
    assert_400(post_ingest(client, "alertmanager", am(startsAt=when)), "alerts[0].startsAt", "UTC")
    assert_400(post_ingest(client, "alertmanager", am(endsAt=when)), "alerts[0].endsAt", "UTC")
    assert_400(post_ingest(client, "generic", generic(starts_at=when)), "alerts[0].starts_at", "UTC")
    assert_400(client.get(f"/api/v1/alerts?since={when.replace('+', '%2B')}"), "since")
    assert_400(client.get(f"/api/v1/audit?until={when.replace('+', '%2B')}"), "until")


def test_alertmanagers_zero_end_time_is_still_accepted(hostile: Any) -> None:
    client, _config = hostile
    assert post_ingest(client, "alertmanager", am(endsAt="0001-01-01T00:00:00Z")).status_code == 202


def test_it_caps_labels_label_sizes_and_annotations_per_alert(hostile: Any) -> None:
    client, _config = hostile
    many = {"alertname": "Disk", **{f"l{i}": "x" for i in range(64)}}
    assert_400(post_ingest(client, "alertmanager", am(labels=many)), "alerts[0].labels", "at most 64 labels")
    assert_400(
        post_ingest(client, "generic", generic(labels={f"l{i}": "x" for i in range(65)})), "alerts[0].labels", "65"
    )
    long_name = {"alertname": "Disk", "n" * 129: "x"}
    assert_400(post_ingest(client, "alertmanager", am(labels=long_name)), "alerts[0].labels", "128 bytes")
    long_value = {"alertname": "Disk", "instance": "é" * 1025}  # 2,050 bytes in UTF-8
    assert_400(post_ingest(client, "alertmanager", am(labels=long_value)), "alerts[0].labels.instance", "2048")
    notes = {"summary": "s" * 8000, "description": "d" * 8400}
    assert_400(post_ingest(client, "alertmanager", am(annotations=notes)), "alerts[0].annotations", "16384")
    assert_400(
        post_ingest(client, "alertmanager", am(labels={"alertname": "A" * 201})), "alerts[0].labels", "alertname"
    )
    at_limit = {"alertname": "Disk", **{f"l{i}": "v" * 2048 for i in range(63)}}
    assert post_ingest(client, "alertmanager", am(labels=at_limit, annotations={"s": "x" * 16000})).status_code == 202
    assert inbox_size(client) == 1


def test_the_caps_are_configurable(
    tmp_path: Any, database_url: str, database: Database, tokens: dict[str, str]
) -> None:
    config = make_config(tmp_path, database_url, ingest={"generic": {"token": TOKEN}, "max_labels": 2})
    client = Client(create_app(config).test_client(), tokens)
    assert post_ingest(client, "generic", generic(labels={"a": "1", "b": "2"})).status_code == 202
    assert_400(post_ingest(client, "generic", generic(labels={"a": "1", "b": "2", "c": "3"})), "alerts[0].labels")


@pytest.mark.parametrize("next_", ["/alerts\r\nSet-Cookie: x=1", "/alerts\n", "/\t/evil.example"])
def test_a_login_next_with_control_characters_is_not_followed_and_is_no_500(
    hostile: Any, tokens: dict[str, str], next_: str
) -> None:
    client, _config = hostile
    web = client.as_(None)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").get_data(as_text=True)).group(1)
    signed_in = web.post("/login", data={"token": tokens["viewer"], "csrf_token": csrf, "next": next_})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/alerts"
    again = web.get("/login", query_string={"next": next_})
    assert again.status_code == 302 and again.headers["Location"] == "/alerts"
