"""Diagnoses end to end inside Vigil: queued on firing, run by the worker against a
Prometheus-shaped HTTP server on loopback, read and requested through the API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pytest
from sqlalchemy import select

from app import create_app
from app.alerts import service as alerts
from app.alerts.models import AlertEvent
from app.diagnostics.models import Diagnosis
from app.diagnostics.worker import DiagnosisWorker
from app.reactions import react
from detectors.findings import Finding
from tests.conftest import make_config
from tests.helpers import Client, free_port

START = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
CAUSE = {"__name__": "pool_waiting", "job": "api", "instance": "db-1"}
SIGNALS = 300


def _answer(form: dict[str, list[str]]) -> bytes:
    """300 noisy series on the requested grid; one (CAUSE) steps up 5 minutes before START."""
    start, end, step = (float(form[k][0]) for k in ("start", "end", "step"))
    t = np.arange(start, end + step / 2, step)
    rng = np.random.default_rng(7)
    result = []
    for i in range(SIGNALS):
        labels = CAUSE if i == 123 else {"__name__": f"metric_{i % 30}", "job": "api", "instance": f"web-{i // 30}"}
        v = 50 + rng.normal(0, 1, t.size)
        if i == 123:
            v += 8 * (t >= START.timestamp() - 300)
        if i == 7:  # a consequence: moves 2 minutes after the alert
            v += 15 * (t >= START.timestamp() + 120)
        result.append({"metric": labels, "values": [[float(a), f"{b:.4f}"] for a, b in zip(t, v)]})
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()


@pytest.fixture
def prometheus() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            payload = _answer(parse_qs(body.decode()))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _config(tmp_path: Any, database_url: str, url: str) -> Any:
    detector = {"source": "prom", "query": "latency", "analysis": {"type": "threshold", "above": 1}}
    return make_config(
        tmp_path,
        database_url,
        sources=[{"name": "prom", "type": "prometheus", "url": url, "timeout_s": 60}],
        detectors=[
            {"name": "latency", **detector, "diagnose": {"queries": ['{job="api"}'], "lookback": "30m", "after": "5m"}},
            {"name": "plain", **detector},
        ],
    )


def _fire(database: Any, config: Any, detector: str) -> int:
    finding = Finding(
        kind="threshold",
        labels={"__name__": "latency", "job": "api"},
        state="firing",
        value=3.0,
        threshold=1.0,
        active_since=START,
    )
    with database.write() as session:
        transitions = alerts.apply(
            session, detector=detector, severity="warning", static_labels={}, findings=[finding], now=START
        )
        react(session, transitions, now=START, config=config)
        return transitions[0].alert_id


@pytest.fixture
def setup(tmp_path: Any, database_url: str, database: Any, prometheus: str, tokens: dict[str, str]) -> Any:
    config = _config(tmp_path, database_url, prometheus)
    app = create_app(config)
    app.config["TESTING"] = True
    yield config, Client(app.test_client(), tokens)
    app.extensions["vigil.db"].dispose()


def test_it_queues_on_firing_waits_for_the_window_then_names_the_cause_first(setup: Any, database: Any) -> None:
    config, client = setup
    alert_id = _fire(database, config, "latency")
    with database.read() as session:
        row = session.scalar(select(Diagnosis).where(Diagnosis.alert_id == alert_id))
        assert row is not None and row.state == "queued" and row.not_before == START + timedelta(minutes=5)
    early = DiagnosisWorker(database, config, {}, holder="test", clock=lambda: START + timedelta(minutes=1))
    assert early.run_pending() == 0  # the 5 minutes after the start have not passed yet
    worker = DiagnosisWorker(database, config, {}, holder="test", clock=lambda: START + timedelta(minutes=6))
    assert worker.run_pending() == 1
    answer = client.as_("viewer").get(f"/api/v1/alerts/{alert_id}/diagnosis")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["state"] == "done" and body["signals"] == SIGNALS and body["analysed"] == SIGNALS
    top = body["suspects"][0]
    assert top["labels"] == CAUSE and top["direction"] == "up" and abs(top["lead_s"] - 300) <= 10
    assert 0 < len(top["series"]["t"]) <= 120 and top["before"] == pytest.approx(50, abs=1)
    with database.read() as session:
        kinds = [e.kind for e in session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert_id))]
    assert "diagnosed" in kinds


def test_it_runs_on_demand_for_operators_only(setup: Any, database: Any) -> None:
    config, client = setup
    alert_id = _fire(database, config, "latency")
    DiagnosisWorker(database, config, {}, holder="t", clock=lambda: START + timedelta(minutes=6)).run_pending()
    assert client.as_("viewer").post(f"/api/v1/alerts/{alert_id}/diagnose").status_code == 403
    again = client.as_("operator").post(f"/api/v1/alerts/{alert_id}/diagnose")
    assert again.status_code == 202 and again.get_json()["state"] == "queued"
    assert again.get_json()["suspects"] == []


def test_it_answers_404_and_409_with_the_error_shape(setup: Any, database: Any) -> None:
    config, client = setup
    missing = client.as_("viewer").get("/api/v1/alerts/999/diagnosis")
    assert missing.status_code == 404 and "999" in missing.get_json()["message"]
    plain = _fire(database, config, "plain")
    assert client.as_("viewer").get(f"/api/v1/alerts/{plain}/diagnosis").status_code == 404
    refused = client.as_("operator").post(f"/api/v1/alerts/{plain}/diagnose")
    assert refused.status_code == 409 and "diagnose" in refused.get_json()["errors"]["alert_id"]
    assert client.as_("operator").post("/api/v1/alerts/999/diagnose").status_code == 404


def test_a_failing_source_is_recorded_on_the_diagnosis(
    tmp_path: Any, database_url: str, database: Any, tokens: dict[str, str]
) -> None:
    config = _config(tmp_path, database_url, f"http://127.0.0.1:{free_port()}")
    alert_id = _fire(database, config, "latency")
    DiagnosisWorker(database, config, {}, holder="t", clock=lambda: START + timedelta(minutes=6)).run_pending()
    with database.read() as session:
        row = session.scalar(select(Diagnosis).where(Diagnosis.alert_id == alert_id))
        assert row is not None and row.state == "failed" and 'prometheus source "prom"' in (row.error or "")


def test_the_alert_page_shows_the_top_suspects_as_small_multiples(
    tmp_path: Any, database_url: str, database: Any, prometheus: str, tokens: dict[str, str]
) -> None:
    from tests.integration.dashboard.conftest import Web

    config = _config(tmp_path, database_url, prometheus)
    alert_id = _fire(database, config, "latency")
    app = create_app(config)
    app.config["TESTING"] = True
    web = Web(app.test_client(), tokens).login("viewer")
    assert 'id="suspects"' not in web.get(f"/alerts/{alert_id}").text  # not diagnosed yet
    DiagnosisWorker(database, config, {}, holder="t", clock=lambda: START + timedelta(minutes=6)).run_pending()
    page = web.get(f"/alerts/{alert_id}").text
    app.extensions["vigil.db"].dispose()
    assert 'id="suspects"' in page and "diagnosis.js" in page
    assert page.index("pool_waiting") < page.index("metric_")  # the cause is the first small multiple
    assert 1 <= page.count('class="chart-small"') <= 10
