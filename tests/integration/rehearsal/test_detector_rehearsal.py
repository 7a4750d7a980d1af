"""Detector rehearsal against a real Prometheus on loopback holding two days of backfilled history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.alerts.models import Alert
from tests.conftest import make_config
from tests.helpers import Client
from tests.integration.rehearsal.history import NOW, PROMTOOL, START

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="needs promtool")]


@pytest.fixture
def api(tmp_path: Path, database: Any, database_url: str, tokens: dict[str, str], prometheus: str) -> Iterator[Client]:
    config = make_config(
        tmp_path,
        database_url,
        sources=[{"type": "prometheus", "name": "prom", "url": prometheus}],
        detectors=[
            {
                "name": "rh",
                "source": "prom",
                "query": "vigil_rh",
                "interval": "5m",
                "window": "15m",
                "analysis": {"type": "threshold", "above": 90},
            }
        ],
    )
    app = create_app(config)
    yield Client(app.test_client(), tokens, role="operator")
    app.extensions["vigil.db"].dispose()


def test_it_lists_added_same_and_removed_alerts_for_a_changed_threshold(api: Client, database: Any) -> None:
    period = {"since": START.isoformat(), "until": NOW.isoformat()}
    unchanged = api.post("/api/v1/detectors/rh/rehearse", json=period)
    assert unchanged.status_code == 200, unchanged.get_json()
    [alert] = unchanged.get_json()["added"]  # nothing stored yet: the spike at hours 10-12 is new
    fired = datetime.fromisoformat(alert["start"])
    assert START + timedelta(hours=10) <= fired <= START + timedelta(hours=10, minutes=10)
    with database.write() as session:  # the alert the live detector raised for that spike
        session.add(
            Alert(
                fingerprint=alert["fingerprint"],
                detector="rh",
                labels=alert["labels"],
                severity="warning",
                state="resolved",
                kind="threshold",
                started_at=fired,
                fired_at=fired,
                resolved_at=START + timedelta(hours=12),
                last_seen_at=fired,
            )
        )

    lower = api.post(
        "/api/v1/detectors/rh/rehearse", json={**period, "definition": {"analysis": {"type": "threshold", "above": 70}}}
    ).get_json()
    assert lower["summary"] == {"rehearsed": 2, "actual": 1, "same": 1, "shifted": 0, "added": 1, "removed": 0}
    assert START + timedelta(hours=20) <= datetime.fromisoformat(lower["added"][0]["start"])

    higher = api.post(
        "/api/v1/detectors/rh/rehearse", json={**period, "definition": {"analysis": {"type": "threshold", "above": 99}}}
    ).get_json()
    assert higher["summary"]["removed"] == 1 and higher["summary"]["rehearsed"] == 0


def test_it_refuses_a_bad_definition_and_an_unknown_detector(api: Client) -> None:
    bad = api.post("/api/v1/detectors/rh/rehearse", json={"definition": {"interval": "soon"}})
    assert bad.status_code == 400 and bad.get_json()["errors"]
    assert api.post("/api/v1/detectors/nope/rehearse", json={}).status_code == 404
    too_long = api.post("/api/v1/detectors/rh/rehearse", json={"since": "100d"})
    assert too_long.status_code == 400 and "since" in too_long.get_json()["errors"]
    assert api.as_("viewer").post("/api/v1/detectors/rh/rehearse", json={}).status_code == 403
