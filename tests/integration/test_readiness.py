"""/api/v1/ready tells the truth about the database and the scheduler; /metrics shows the lease."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app import create_app
from app.db import Database, utcnow
from app.detection import lease
from tests.conftest import make_config


def take_lease(database: Database, holder: str, *, ago_s: float = 0) -> None:
    with database.write() as session:
        lease.acquire(session, holder=holder, now=utcnow() - timedelta(seconds=ago_s), ttl_s=30)


def test_ready_reads_the_lease_and_names_its_holder(client, database) -> None:
    take_lease(database, "host-a:41:abc")
    answer = client.as_(None).get("/api/v1/ready")
    assert answer.status_code == 200
    body = answer.json
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["scheduler"]["holder"] == "host-a:41:abc" and body["scheduler"]["stale"] is False
    assert 0 <= body["scheduler"]["lease_age_s"] < 30


def test_a_lease_not_renewed_within_its_ttl_makes_ready_503_with_the_reason(client, database) -> None:
    take_lease(database, "host-a:41:abc", ago_s=95)  # killed with -9 about a minute ago
    answer = client.as_(None).get("/api/v1/ready")
    assert answer.status_code == 503
    body = answer.json
    assert body["status"] == "unavailable" and body["scheduler"]["stale"] is True
    assert body["scheduler"]["lease_age_s"] >= 95
    assert "host-a:41:abc" in body["reason"] and "lease_ttl_s 30" in body["reason"]


def test_a_lease_released_by_a_scheduler_that_stopped_makes_ready_503_saying_so(client, database) -> None:
    take_lease(database, "host-a:41:abc")
    with database.write() as session:
        lease.release(session, holder="host-a:41:abc")
    answer = client.as_(None).get("/api/v1/ready")
    assert answer.status_code == 503 and "host-a:41:abc released it when it stopped" in answer.json["reason"]


def test_a_stale_lease_is_no_concern_when_no_scheduler_is_configured(tmp_path, database, database_url) -> None:
    take_lease(database, "host-a:41:abc", ago_s=95)
    app = create_app(make_config(tmp_path, database_url, settings={"scheduler": {"enabled": False}}))
    try:
        assert app.test_client().get("/api/v1/ready").status_code == 200
    finally:
        app.extensions["vigil.db"].dispose()


def test_ready_on_a_read_only_database_file_is_503(tmp_path, database) -> None:
    if not database.file:
        pytest.skip("a SQLite file opened read-only")
    # Reads work, every write fails: `SELECT 1` answered 200 here.
    app = create_app(make_config(tmp_path, f"sqlite:///file:{database.file}?mode=ro&uri=true"))
    try:
        answer = app.test_client().get("/api/v1/ready")
    finally:
        app.extensions["vigil.db"].dispose()
    assert answer.status_code == 503
    assert answer.json["database"] == "read-only" and "readonly" in answer.json["reason"]


def test_ready_is_503_when_the_database_file_cannot_be_opened(tmp_path) -> None:
    missing = tmp_path / "gone" / "vigil.db"  # its directory was removed under the running app
    app = create_app(make_config(tmp_path, f"sqlite:///file:{missing}?mode=ro&uri=true"))
    try:
        answer = app.test_client().get("/api/v1/ready")
    finally:
        app.extensions["vigil.db"].dispose()
    assert answer.status_code == 503 and answer.json["database"] == "unreachable"


def test_metrics_show_the_lease_holder_and_its_age(client, database) -> None:
    take_lease(database, "host-b:7:def", ago_s=12)
    body = client.as_(None).get("/metrics").get_data(as_text=True)
    assert 'vigil_scheduler_lease_info{holder="host-b:7:def"} 1.0' in body
    age = re.search(r"^vigil_scheduler_lease_age_seconds (\S+)$", body, re.M)
    assert age and 12 <= float(age.group(1)) < 40
