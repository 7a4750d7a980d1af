"""Free-text search, regex label matchers and the one filter vocabulary of /api/v1/alerts."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from app.alerts import service
from detectors.findings import Finding

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def seed(app: Any) -> None:
    with app.extensions["vigil.db"].write() as s:
        for i, (detector, labels, message) in enumerate(
            [
                ("api-latency", {"service": "checkout", "host": "web-1"}, "p99 latency 950ms > 500ms"),
                ("api-latency", {"service": "search", "host": "web-2"}, "p99 latency 700ms > 500ms"),
                ("disk-full", {"service": "db", "host": "db-1"}, "disk 97% full on /var/lib_data"),
                ("queue-depth", {"service": "Worker", "host": "q-1"}, "queue 100% of capacity"),
            ]
        ):
            service.apply(
                s,
                detector=detector,
                severity="warning",
                static_labels={},
                findings=[Finding("threshold", labels, "firing", value=1.0, message=message)],
                now=T0 + timedelta(minutes=i),
            )
        service.apply_external(
            s,
            {
                "fingerprint": "ext-1",
                "starts_at": T0.isoformat(),
                "status": "firing",
                "name": "KubePodCrashLooping",
                "source": "alertmanager",
                "severity": "critical",
                "labels": {"alertname": "KubePodCrashLooping", "namespace": "payments"},
                "summary": "pod restarts",
                "annotations": {
                    "description": "Pod payments/ledger-7 restarts often",
                    "runbook_url": "https://runbooks.example/crashloop",
                },
            },
            now=T0 + timedelta(minutes=5),
        )


def hosts(client: Any, query: str) -> list[str]:
    answer = client.as_("viewer").get(f"/api/v1/alerts?{query}")
    assert answer.status_code == 200, answer.json
    return [a["labels"].get("host") or a["labels"].get("alertname") for a in answer.json["items"]]


def test_free_text_searches_detector_labels_message_and_annotations(client: Any, app: Any) -> None:
    seed(app)
    assert hosts(client, "q=latency") == ["web-2", "web-1"]
    assert hosts(client, "q=LATENCY+checkout") == ["web-1"]  # every word, any case
    assert hosts(client, "q=service%3Ddb") == ["db-1"]  # a label as name=value
    assert hosts(client, "q=worker") == ["q-1"]
    assert hosts(client, "q=ledger-7") == ["KubePodCrashLooping"]  # an annotation
    assert hosts(client, "q=%22latency+950%22") == ["web-1"]  # a quoted phrase
    assert hosts(client, "q=100%25") == ["q-1"]  # % is a character, not a wildcard
    assert hosts(client, "q=lib_d") == ["db-1"] and hosts(client, "q=lib%25d") == []
    assert hosts(client, "q=nothing-like-this") == []
    too_many = client.as_("viewer").get("/api/v1/alerts?q=" + "+".join("abcdefghi"))
    assert too_many.status_code == 400 and "at most 8 search terms" in str(too_many.json)


def test_regex_matchers_are_anchored_re2(client: Any, app: Any) -> None:
    seed(app)
    assert hosts(client, "label=host=~web-.*") == ["web-2", "web-1"]
    assert hosts(client, "label=host=~web") == []  # anchored: the whole value must match
    assert hosts(client, "label=host!~web-.*%7Cdb-1") == ["KubePodCrashLooping", "q-1"]
    assert hosts(client, "label=host=~web-.*&label=service!=search") == ["web-1"]
    bad = client.as_("viewer").get("/api/v1/alerts?label=host=~(a")
    assert bad.status_code == 400 and "invalid regex" in str(bad.json)
    lookahead = client.as_("viewer").get("/api/v1/alerts?label=host=~(?=a)")
    assert lookahead.status_code == 400


def test_a_backtracking_regex_runs_in_linear_time(client: Any, app: Any) -> None:
    with app.extensions["vigil.db"].write() as s:
        service.apply(
            s,
            detector="evil",
            severity="warning",
            static_labels={},
            findings=[Finding("threshold", {"x": "a" * 40 + "!"}, "firing", value=1.0)],
            now=T0,
        )
    started = time.monotonic()
    assert hosts(client, "label=x=~(a%2B)%2Bb") == []
    assert time.monotonic() - started < 5  # Python's re takes minutes on this; RE2 microseconds


def test_labels_is_accepted_as_an_alias_of_label(client: Any, app: Any) -> None:
    seed(app)
    assert hosts(client, "labels=service=checkout") == ["web-1"]
    assert hosts(client, "labels=host=~web-.*+service!=search") == ["web-1"]
    assert hosts(client, "labels=host=~web-[0-9]{1,3},service=search") == ["web-2"]  # a comma in a regex stays
    assert client.as_("viewer").get("/api/v1/alerts?labels=nonsense").status_code == 400


def test_silence_preview_lists_the_open_alerts_it_would_match(client: Any, app: Any) -> None:
    seed(app)
    body = {
        "matchers": [
            {"name": "detector", "op": "=", "value": "api-latency"},
            {"name": "host", "op": "=~", "value": "web-[12]"},
        ]
    }
    answer = client.as_("operator").post("/api/v1/silences/preview", json=body).json
    assert [a["labels"]["host"] for a in answer["items"]] == ["web-2", "web-1"]
    assert (answer["total"], answer["complete"], answer["allowed"]) == (2, True, True)
    regex_only = {"matchers": [{"name": "host", "op": "=~", "value": "web-.*"}]}
    refused = client.as_("operator").post("/api/v1/silences/preview", json=regex_only).json
    assert refused["total"] == 2 and not refused["allowed"] and "only an admin" in refused["reason"]
    assert client.as_("admin").post("/api/v1/silences/preview", json=regex_only).json["allowed"]
    viewer = client.as_("viewer").post("/api/v1/silences/preview", json=body).json
    assert viewer["total"] == 2 and not viewer["allowed"] and "operator" in viewer["reason"]
    bad = client.as_("operator").post(
        "/api/v1/silences/preview", json={"matchers": [{"name": "host", "op": "=~", "value": "(a"}]}
    )
    assert bad.status_code == 400 and "matchers[0].value" in str(bad.json)
    assert client.as_(None).post("/api/v1/silences/preview", json=body).status_code == 401


def test_search_follows_an_alert_whose_message_changes(client: Any, app: Any) -> None:
    with app.extensions["vigil.db"].write() as s:
        for at, message in ((T0, "queue backlog alpha"), (T0 + timedelta(minutes=1), "queue backlog bravo")):
            service.apply(
                s,
                detector="queue",
                severity="warning",
                static_labels={},
                findings=[Finding("threshold", {"host": "q-9"}, "firing", value=1.0, message=message)],
                now=at,
            )
    assert hosts(client, "q=bravo") == ["q-9"] and hosts(client, "q=alpha") == []
    assert hosts(client, "q=al") == [] and hosts(client, "q=br+q-9") == ["q-9"]  # short terms scan instead


def test_a_search_pages_alike_from_the_newest_alerts_and_from_the_index(
    client: Any, app: Any, monkeypatch: Any
) -> None:
    seed(app)
    for scan in (5000, 1):  # all answered from the newest alerts; or the index past the first one
        monkeypatch.setattr(service, "NEWEST_SCAN", scan)
        first = client.as_("viewer").get("/api/v1/alerts?q=latency&limit=1").json
        second = client.as_("viewer").get(f"/api/v1/alerts?q=latency&limit=1&cursor={first['next_cursor']}").json
        assert [a["labels"]["host"] for a in first["items"] + second["items"]] == ["web-2", "web-1"]
        assert hosts(client, "q=latency+checkout") == ["web-1"] and hosts(client, "q=postgres-nowhere") == []
