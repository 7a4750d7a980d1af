import json

import pytest
from sqlalchemy import func, select

from app.auth.models import ApiToken


def count_tokens(app) -> int:
    with app.extensions["vigil.db"].read() as session:
        return session.scalar(select(func.count()).select_from(ApiToken))


def test_health_and_ready_answer_without_a_token(client) -> None:
    assert client.as_(None).get("/api/v1/health").json == {"status": "ok"}
    ready = client.as_(None).get("/api/v1/ready").json
    assert (ready["status"], ready["database"], ready["scheduler"]) == ("ok", "ok", None)


def test_an_admin_creates_a_token_that_is_shown_once_and_works(client) -> None:
    created = client.post("/api/v1/tokens", json={"name": "ci-bot", "role": "operator"})
    assert created.status_code == 201
    secret = created.json["token"]
    listed = client.get("/api/v1/tokens").json
    assert "ci-bot" in [t["name"] for t in listed]
    assert secret not in json.dumps(listed)
    me = client.as_(None).get("/api/v1/audit", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    actions = [r["action"] for r in client.get("/api/v1/audit?action=token.create").json["items"]]
    assert "token.create" in actions


def test_a_revoked_token_is_refused(client) -> None:
    created = client.post("/api/v1/tokens", json={"name": "temp", "role": "viewer"}).json
    assert client.delete(f"/api/v1/tokens/{created['id']}").json["revoked_at"]
    answer = client.as_(None).get("/api/v1/audit", headers={"Authorization": f"Bearer {created['token']}"})
    assert answer.status_code == 401
    assert client.as_("revoked").get("/api/v1/audit").status_code == 401


@pytest.mark.parametrize("role, status", [(None, 401), ("viewer", 403), ("operator", 403), ("admin", 201)])
def test_creating_a_token_needs_the_admin_role(client, role, status) -> None:
    answer = client.as_(role).post("/api/v1/tokens", json={"name": f"n-{role}", "role": "viewer"})
    assert answer.status_code == status
    assert "message" in answer.json and "errors" in answer.json or status == 201


def test_a_stranger_gets_401_before_any_body_validation(client) -> None:
    answer = client.as_(None).post("/api/v1/tokens", json={"bogus": 1})
    assert answer.status_code == 401
    assert "token" in answer.json["message"]


def test_reads_need_a_token_unless_anonymous_read_is_on(tmp_path, database_url, database) -> None:
    from app import create_app
    from tests.conftest import make_config

    closed = create_app(make_config(tmp_path, database_url)).test_client()
    assert closed.get("/api/v1/audit").status_code == 401
    open_ = create_app(make_config(tmp_path, database_url, settings={"anonymous_read": True})).test_client()
    assert open_.get("/api/v1/audit").status_code == 200
    assert open_.post("/api/v1/tokens", json={"name": "x", "role": "admin"}).status_code == 401


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x"}, "role"),  # missing field
        ({"name": "x", "role": "root"}, "role"),  # not one of the roles
        ({"name": 5, "role": "viewer"}, "name"),  # wrong type
        ({"name": "x", "role": "viewer", "extra": 1}, ""),  # unknown field
        ({"name": "has space", "role": "viewer"}, "name"),  # bad pattern
    ],
)
def test_bad_bodies_get_400_naming_the_field_and_nothing_is_written(client, app, body, field) -> None:
    before = count_tokens(app)
    answer = client.post("/api/v1/tokens", json=body)
    assert answer.status_code == 400
    assert field in answer.json["errors"]
    assert count_tokens(app) == before


def test_malformed_json_gets_a_clear_400(client) -> None:
    answer = client.post("/api/v1/tokens", data="{not json", content_type="application/json")
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json["message"]


@pytest.mark.parametrize("comment", [rb'"\ud800 alone"', b'"\xed\xa0\x80 raw"', rb'"\uDFFF\u0041"'])
def test_a_lone_surrogate_gets_a_clear_400_and_nothing_is_stored(client, comment) -> None:
    body = b'{"matchers": [{"name": "job", "value": "api"}], "duration": "1h", "comment": ' + comment + b"}"
    answer = client.post("/api/v1/silences", data=body, content_type="application/json")
    assert answer.status_code == 400 and "lone surrogate" in answer.json["message"]
    assert client.get("/api/v1/silences").json["items"] == []


def test_an_escaped_surrogate_pair_is_ordinary_text(client) -> None:
    body = (
        rb'{"matchers": [{"name": "job", "value": "api"}], "duration": "1h", "comment": "deploy \ud83d\ude80 \\ud800"}'
    )
    answer = client.post("/api/v1/silences", data=body, content_type="application/json")
    assert answer.status_code == 201, answer.json
    assert answer.json["comment"] == "deploy \U0001f680 \\ud800"


def test_an_oversized_body_gets_413(client) -> None:
    answer = client.post("/api/v1/tokens", data="x" * 2_000_000, content_type="application/json")
    assert answer.status_code == 413
    assert answer.json["message"]


def test_a_duplicate_name_is_a_409(client) -> None:
    client.post("/api/v1/tokens", json={"name": "dup", "role": "viewer"})
    answer = client.post("/api/v1/tokens", json={"name": "dup", "role": "viewer"})
    assert answer.status_code == 409 and "dup" in answer.json["message"]


def test_unknown_api_routes_and_ids_are_json_404s(client) -> None:
    for answer in (client.get("/api/v1/nothing-here"), client.delete("/api/v1/tokens/999")):
        assert answer.status_code == 404
        assert answer.is_json and answer.json["message"]


def test_bad_query_parameters_name_the_parameter(client) -> None:
    answer = client.get("/api/v1/audit?limit=0&since=yesterday")
    assert answer.status_code == 400
    assert set(answer.json["errors"]) == {"limit", "since"}


def test_audit_pages_with_a_cursor_and_the_chain_verifies(client) -> None:
    for i in range(5):
        client.post("/api/v1/tokens", json={"name": f"t{i}", "role": "viewer"})
    first = client.get("/api/v1/audit?limit=3").json
    second = client.get(f"/api/v1/audit?limit=3&cursor={first['next_cursor']}").json
    ids = [r["id"] for r in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert client.get("/api/v1/audit/verify").json["ok"] is True


def test_the_swagger_document_lists_the_api(client) -> None:
    spec = client.as_(None).get("/api/v1/swagger.json").json
    assert spec["swagger"] == "2.0"
    assert {"/tokens", "/audit", "/health"} <= set(spec["paths"])
