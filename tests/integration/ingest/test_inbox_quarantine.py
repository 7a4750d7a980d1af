"""One inbox item that cannot be applied is quarantined (failed, with its error) and the
others are processed; before, it failed its batch on every pass and halted the inbox."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert, select

from app.alerts.models import Alert
from app.db import Database, utcnow
from app.ingest import payloads, service
from app.ingest.models import InboxItem
from tests.integration.ingest.test_ingest import am_alert, am_payload, ingest, post_am, process

__all__ = ["ingest"]  # the fixture, shared with test_ingest


def _poison(database: Database, item: dict[str, Any], key: str) -> None:
    """Insert straight into the table, past the API's validation (an older release, a bug)."""
    with database.write() as session:
        session.execute(insert(InboxItem).values(dedup_key=key, source="generic", received_at=utcnow(), item=item))


def inbox(client: Any, state: str) -> list[dict[str, Any]]:
    answer = client.as_("viewer").get(f"/api/v1/ingest/inbox?state={state}")
    assert answer.status_code == 200
    # Plain JSON: an item is shown as received, a NUL (\\u0000) and all, which the app's own
    # parser (for request bodies) would refuse.
    items: list[dict[str, Any]] = json.loads(answer.get_data())["items"]
    return items


def _good(name: str) -> dict[str, Any]:
    alert = payloads.GenericAlert(name=name, status="firing", labels={"team": "db"})
    return payloads.from_generic(payloads.GenericPayload(alerts=[alert]), utcnow())[0]


def test_it_quarantines_a_poisoned_item_and_processes_the_alerts_after_it(ingest: Any, database: Database) -> None:
    client, config = ingest
    nul = {**_good("nul-label"), "labels": {"team": "a\x00b"}}  # PostgreSQL cannot store this text
    _poison(database, nul, "poison-nul")
    _poison(database, {"source": "generic", "name": "no-fingerprint"}, "poison-malformed")  # fails everywhere
    assert post_am(client, am_payload(am_alert(instance="after-1"), am_alert(instance="after-2"))).status_code == 202

    assert process(database, config) == 4
    assert process(database, config) == 0, "a quarantined item is not retried on every pass"
    with database.read() as session:
        instances = sorted(a.labels.get("instance", "") for a in session.scalars(select(Alert)))
    assert instances[-2:] == ["after-1", "after-2"], "the good alerts after the poisoned rows were applied"

    failed = inbox(client, "failed")
    errors = {i["item"]["name"]: i["error"] for i in failed}
    assert "no-fingerprint" in errors and errors["no-fingerprint"].startswith("KeyError")
    if database.is_sqlite:
        assert "nul-label" not in errors, "SQLite stores a NUL, so there the item is simply applied"
    else:
        assert "NUL" in errors["nul-label"]
    assert all(i["state"] == "failed" for i in failed)
    processed = inbox(client, "processed")
    assert {i["state"] for i in processed} == {"processed"} and len(processed) == 4 - len(errors)
    assert inbox(client, "pending") == []


def test_it_applies_a_clean_batch_in_one_go_without_errors(ingest: Any, database: Database) -> None:
    client, config = ingest
    post_am(client, am_payload(am_alert(instance="a"), am_alert(instance="b")))
    assert process(database, config) == 2
    items = client.as_("viewer").get("/api/v1/ingest/inbox").json["items"]
    assert [(i["state"], i["error"]) for i in items] == [("processed", None)] * 2


def test_the_inbox_listing_needs_a_token_and_names_a_wrong_state(ingest: Any) -> None:
    client, _config = ingest
    assert client.as_(None).get("/api/v1/ingest/inbox").status_code == 401
    answer = client.as_("viewer").get("/api/v1/ingest/inbox?state=broken")
    assert answer.status_code == 400 and "state" in answer.json["errors"]


def test_it_keeps_the_drivers_message_not_the_sql_and_escapes_unstorable_text() -> None:
    from sqlalchemy.exc import DataError, OperationalError

    refused = DataError(
        "INSERT INTO alert_labels ... 'a\x00b'",
        {"value": "a\x00b"},
        Exception("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
    )
    assert service.describe(refused) == "Exception: PostgreSQL text fields cannot contain NUL (0x00) bytes"
    assert service.describe(KeyError("a\x00b\ud800")) == "KeyError: 'a\\x00b\\ud800'"
    away = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert service._database_away(away) and not service._database_away(refused), (
        "a database that is away fails the pass (items wait); it quarantines nothing"
    )
