"""GET /api/v1/alerts replayed from memory (SQLite): never stale, never to a caller Flask would refuse.

On PostgreSQL there is no cache; the same answers must come back, with no hits counted.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import REGISTRY

from app.alerts import service
from app.auth import ratelimit
from app.db import Database
from detectors.findings import Finding
from tests.integration.api.test_alerts_api import T0, seed


def counted(result: str) -> float:
    return REGISTRY.get_sample_value("vigil_alert_list_cache_total", {"result": result}) or 0.0


def hits_expected(app: Any) -> int:
    return 1 if app.extensions["vigil.db"].file else 0


def test_a_repeated_list_is_replayed_until_anything_commits(client: Any, app: Any, database_url: str) -> None:
    seed(app, n=2)
    viewer = client.as_("viewer")
    hits = counted("hit")
    first = viewer.get("/api/v1/alerts")  # its first use also records the token's last use
    answers = [viewer.get("/api/v1/alerts") for _ in range(2)]
    assert [(a.status_code, a.json) for a in answers] == [(200, first.json)] * 2
    assert counted("hit") - hits == hits_expected(app)
    # Another process's commit (here: another engine) shows at once.
    other = Database(database_url)
    with other.write() as session:
        service.apply(
            session,
            detector="disk",
            severity="warning",
            static_labels={},
            now=T0,
            findings=[Finding(kind="threshold", labels={}, state="firing", value=1.0)],
        )
    other.dispose()
    assert len(viewer.get("/api/v1/alerts").json["items"]) == 3
    # And so does a change made through the API itself.
    alert_id = first.json["items"][0]["id"]
    assert client.as_("operator").post(f"/api/v1/alerts/{alert_id}/ack", json={}).status_code == 200
    acked = {a["id"]: a["acked_by"] for a in viewer.get("/api/v1/alerts").json["items"]}
    assert acked[alert_id] == "test-operator"


def test_each_query_string_has_its_own_answer(client: Any, app: Any) -> None:
    seed(app, n=3)
    viewer = client.as_("viewer")
    for _ in range(2):
        assert len(viewer.get("/api/v1/alerts?limit=1").json["items"]) == 1
        assert [a["severity"] for a in viewer.get("/api/v1/alerts?severity=critical").json["items"]] == ["critical"]
        assert len(viewer.get("/api/v1/alerts").json["items"]) == 3
    masked = viewer.get("/api/v1/alerts", headers={"X-Fields": "items{id}"}).json
    assert all(set(item) == {"id"} for item in masked["items"])


def test_a_replayed_answer_has_the_same_headers_and_its_own_request_id(client: Any, app: Any) -> None:
    seed(app, n=1)
    viewer = client.as_("viewer")
    first, second = viewer.get("/api/v1/alerts"), viewer.get("/api/v1/alerts")
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    assert {k: v for k, v in first.headers if k != "X-Request-ID"} == {
        k: v for k, v in second.headers if k != "X-Request-ID"
    }
    assert viewer.get("/api/v1/alerts", headers={"X-Request-ID": "trace-42"}).headers["X-Request-ID"] == "trace-42"


def test_replayed_answers_are_counted_timed_and_logged(client: Any, app: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="vigil.http")
    seed(app, n=1)
    sample = ("vigil_http_requests_total", {"method": "GET", "endpoint": "/api/v1/alerts", "status": "200"})
    before = REGISTRY.get_sample_value(*sample) or 0.0
    for _ in range(3):
        client.as_("viewer").get("/api/v1/alerts", headers={"X-Request-ID": "poll-1"})
    assert (REGISTRY.get_sample_value(*sample) or 0.0) - before == 3
    lines = [r for r in caplog.records if getattr(r, "request_id", None) == "poll-1"]
    assert len(lines) == 3 and all((r.actor, r.status) == ("test-viewer", 200) for r in lines)


def test_only_callers_flask_would_let_in_are_answered(client: Any, app: Any) -> None:
    seed(app, n=1)
    assert client.as_("viewer").get("/api/v1/alerts").status_code == 200
    assert client.as_("viewer").get("/api/v1/alerts").status_code == 200  # now kept in memory
    assert client.as_(None).get("/api/v1/alerts").status_code == 401
    assert client.as_("revoked").get("/api/v1/alerts").status_code == 401
    bad = client.as_(None).get("/api/v1/alerts", headers={"Authorization": "Bearer vgl_guess"})
    assert bad.status_code == 401
    # A token revoked through the API stops working at once, replayed answers included.
    tokens = {t["name"]: t["id"] for t in client.as_("admin").get("/api/v1/tokens").json}
    assert client.as_("admin").delete(f"/api/v1/tokens/{tokens['test-viewer']}").status_code == 200
    assert client.as_("viewer").get("/api/v1/alerts").status_code == 401
    # A client whose guesses are braked still gets in with a good token, replayed or not.
    ratelimit._failures.clear()
    for _ in range(ratelimit.MAX_FAILURES):
        ratelimit.record_failure("127.0.0.1")
    try:
        assert client.as_("operator").get("/api/v1/alerts").status_code == 200
        assert client.as_("operator").get("/api/v1/alerts").status_code == 200
        assert client.as_(None).get("/api/v1/alerts", headers={"Authorization": "Bearer x"}).status_code == 429
    finally:
        ratelimit._failures.clear()


def test_only_sqlite_files_are_cached(tmp_path: Any) -> None:
    assert Database(f"sqlite:///{tmp_path}/v.db").file == (tmp_path / "v.db").resolve()
    assert Database("sqlite://").file is None
    assert Database("postgresql://u@127.0.0.1:1/x").file is None
