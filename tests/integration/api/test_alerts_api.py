from datetime import datetime, timedelta, timezone

import pytest

from app.alerts import service
from detectors.findings import Finding
from tests.conftest import make_config

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def seed(app, n: int = 3, state: str = "firing") -> None:
    with app.extensions["vigil.db"].write() as session:
        for i in range(n):
            service.apply(
                session,
                detector="cpu",
                severity="critical" if i % 2 else "warning",
                static_labels={"team": "sre"},
                findings=[
                    Finding(
                        kind="threshold",
                        labels={"instance": f"i{i}"},
                        state=state,
                        value=91.0 + i,
                        threshold=90.0,
                        message="cpu high",
                        evidence={"t": [1, 2], "v": [1.0, 95.0]},
                    )
                ],
                now=T0 + timedelta(minutes=i),
            )


def test_alerts_list_newest_first_with_filters(client, app) -> None:
    seed(app)
    items = client.as_("viewer").get("/api/v1/alerts").json["items"]
    assert [a["labels"]["instance"] for a in items] == ["i2", "i1", "i0"]
    crit = client.get("/api/v1/alerts?severity=critical").json["items"]
    assert [a["labels"]["instance"] for a in crit] == ["i1"]
    by_label = client.get("/api/v1/alerts?label=instance=i2&state=firing,pending").json["items"]
    assert [a["labels"]["instance"] for a in by_label] == ["i2"]
    since = client.get("/api/v1/alerts?since=2026-11-01T12:01:00Z").json["items"]
    assert len(since) == 2


def test_a_listed_alert_says_what_its_detail_says(client, app) -> None:
    # The list's JSON is built by the database, the detail's by Python: they must agree.
    with app.extensions["vigil.db"].write() as session:
        service.apply(
            session,
            detector="lat",
            severity="warning",
            static_labels={"note": 'say "hi" \\ ü'},
            findings=[
                Finding(
                    kind="threshold",
                    labels={"path": "/a b"},
                    state="firing",
                    value=0.25,
                    threshold=None,
                    message='p99 "slow"\n',
                )
            ],
            now=T0.replace(microsecond=0),
        )
    alert_id = client.get("/api/v1/alerts").json["items"][0]["id"]
    client.as_("operator").post(f"/api/v1/alerts/{alert_id}/ack", json={})
    listed = client.as_("viewer").get("/api/v1/alerts").json["items"][0]
    detail = client.get(f"/api/v1/alerts/{alert_id}").json
    assert listed == {k: v for k, v in detail.items() if k not in ("evidence", "events", "incident_id")}
    assert listed["started_at"] == "2026-11-01T12:00:00.000000+00:00" and listed["threshold"] is None
    assert listed["labels"] == {"note": 'say "hi" \\ ü', "path": "/a b"}
    masked = client.get("/api/v1/alerts", headers={"X-Fields": "items{id,labels}"}).json
    assert masked["items"] == [{"id": alert_id, "labels": listed["labels"]}]


def test_label_matchers_equal_and_not_equal(client, app) -> None:
    seed(app)
    with app.extensions["vigil.db"].write() as session:  # one alert without the instance label
        service.apply(
            session,
            detector="disk",
            severity="warning",
            static_labels={"team": "db"},
            findings=[Finding(kind="threshold", labels={}, state="firing", value=1.0)],
            now=T0,
        )

    def instances(query: str) -> list[str | None]:
        items = client.as_("viewer").get(f"/api/v1/alerts?{query}").json["items"]
        return [a["labels"].get("instance") for a in items]

    assert instances("label=instance=i1") == ["i1"]
    assert instances("label=instance!=i1") == [None, "i2", "i0"], "!= also matches alerts without the label"
    assert instances("label=team=sre&label=instance!=i0") == ["i2", "i1"]
    assert instances("label=instance=nope") == []
    assert instances("label=team=db") == [None]
    first = client.get("/api/v1/alerts?label=team=sre&limit=2").json
    rest = client.get(f"/api/v1/alerts?label=team=sre&limit=2&cursor={first['next_cursor']}").json
    assert [a["labels"]["instance"] for a in first["items"] + rest["items"]] == ["i2", "i1", "i0"]
    assert rest["next_cursor"] is None


def test_bad_filters_are_400s_naming_the_parameter(client) -> None:
    answer = client.get("/api/v1/alerts?state=burning&label=nonsense")
    assert answer.status_code == 400
    assert set(answer.json["errors"]) == {"state", "label"}


def test_alert_detail_has_evidence_and_events_and_ack_needs_operator(client, app) -> None:
    seed(app, 1)
    alert_id = client.get("/api/v1/alerts").json["items"][0]["id"]
    detail = client.get(f"/api/v1/alerts/{alert_id}").json
    assert detail["evidence"]["evidence"] == {"t": [1, 2], "v": [1.0, 95.0]}
    assert [e["kind"] for e in detail["events"]] == ["firing"]
    assert client.as_("viewer").post(f"/api/v1/alerts/{alert_id}/ack", json={}).status_code == 403
    acked = client.as_("operator").post(f"/api/v1/alerts/{alert_id}/ack", json={"comment": "on it"})
    assert acked.status_code == 200 and acked.json["acked_by"] == "test-operator"
    assert client.get("/api/v1/alerts/999999").status_code == 404


@pytest.fixture
def detector_app(tmp_path, database_url, database):
    from app import create_app

    csv = tmp_path / "m.csv"
    now = datetime.now(timezone.utc)
    rows = [f"{(now - timedelta(minutes=30 - i)).isoformat()},{50 if i < 25 else 99}" for i in range(31)]
    csv.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    config = make_config(
        tmp_path,
        database_url,
        sources=[{"name": "file", "type": "csv", "path": str(csv)}],
        detectors=[
            {
                "name": "m",
                "source": "file",
                "query": "value",
                "interval": "1m",
                "window": "30m",
                "analysis": {"type": "threshold", "above": 90},
            }
        ],
    )
    return create_app(config)


def test_detectors_list_preview_and_run_request(detector_app, tokens) -> None:
    from tests.helpers import Client

    client = Client(detector_app.test_client(), tokens)
    listed = client.get("/api/v1/detectors").json
    assert [d["name"] for d in listed] == ["m"] and listed[0]["status"] is None
    preview = client.get("/api/v1/detectors/m/preview").json
    assert preview["error"] is None and preview["findings"][0]["state"] == "firing"
    assert client.as_("viewer").post("/api/v1/detectors/m/run").status_code == 403
    assert client.as_("operator").post("/api/v1/detectors/m/run").status_code == 202
    assert client.get("/api/v1/detectors/m").json["status"]["run_requested_at"]
    assert client.get("/api/v1/detectors/nope").status_code == 404
    assert client.get("/api/v1/alerts").json["items"] == [], "a preview raises no alert"
