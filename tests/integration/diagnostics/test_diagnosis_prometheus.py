"""Diagnosis against a real Prometheus: an induced incident among 2,000 backfilled series.

2,000 signals (noise, daily swings, trends, spikes, random walks: tests/diagnosis_cases.py)
are backfilled with promtool, one of them (`vigil_signal{i="cause"}`) steps 5 minutes before
the alert's own metric (`vigil_latency`) rises. The real detector job runs against that
Prometheus, fires, queues a diagnosis, the diagnosis thread's worker fetches every series of
`{job="api"}` through query_range and ranks them, and the API names the cause first.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from app import create_app
from app.detection import job, lease
from app.diagnostics.worker import DiagnosisWorker
from tests.conftest import make_config
from tests.diagnosis_cases import STEP_S, incident
from tests.helpers import Client, free_port, stop
from tests.integration.detectors.conftest import prometheus_binary  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow

PROMTOOL = "/usr/bin/promtool"
SIGNALS, POINTS, AFTER_POINTS = 2000, 360, 40
END = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=2)
START = END - timedelta(seconds=STEP_S * (POINTS - 1))
ALERT_AT = START + timedelta(seconds=STEP_S * (POINTS - AFTER_POINTS))


def _openmetrics() -> tuple[str, int]:
    """The incident as OpenMetrics text, and the row of the induced cause."""
    inc = incident(
        np.random.default_rng(16), signals=SIGNALS, points=POINTS, after_points=AFTER_POINTS, causes=0, consequences=20
    )
    values = inc.values
    cause = 1234
    values[cause, POINTS - AFTER_POINTS - 20 :] += 8 * np.std(np.diff(values[cause])) / np.sqrt(2)
    stamps = [f"{START.timestamp() + STEP_S * k:.0f}" for k in range(POINTS)]
    lines = ["# TYPE vigil_signal gauge"]
    for row in range(SIGNALS):
        name = "cause" if row == cause else str(row)
        lines += [f'vigil_signal{{job="api",i="{name}"}} {v:.6g} {t}' for v, t in zip(values[row], stamps)]
    latency = 0.2 + np.random.default_rng(1).normal(0, 0.01, POINTS)
    latency[POINTS - AFTER_POINTS :] += 1.0  # the symptom: latency rises at the alert's start
    lines += ["# TYPE vigil_latency gauge"]
    lines += [f'vigil_latency{{job="api"}} {v:.6g} {t}' for v, t in zip(latency, stamps)]
    return "\n".join(lines) + "\n# EOF\n", cause


@pytest.fixture(scope="module")
def incident_url(prometheus_binary: str, tmp_path_factory: Any) -> Iterator[str]:  # noqa: F811
    if not os.path.exists(PROMTOOL):
        pytest.skip("promtool is not installed")
    home = tmp_path_factory.mktemp("prometheus-incident")
    text, _ = _openmetrics()
    (home / "incident.om").write_text(text)
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(home / "incident.om"), str(home / "data")],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (home / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
    port = free_port()
    log = open(home / "prometheus.log", "wb")
    process = subprocess.Popen(
        [
            prometheus_binary,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_served(url, process, home)
        yield url
    finally:
        stop(process)
        log.close()


def _wait_until_served(url: str, process: subprocess.Popen[bytes], home: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {(home / 'prometheus.log').read_text()[-2000:]}")
        try:
            answer = requests.get(
                f"{url}/api/v1/query", timeout=5, params={"query": "count(vigil_signal)", "time": ALERT_AT.timestamp()}
            ).json()
            if answer["data"]["result"] and answer["data"]["result"][0]["value"][1] == str(SIGNALS):
                return
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"prometheus did not serve the backfill: {(home / 'prometheus.log').read_text()[-2000:]}")


def test_the_diagnosis_names_the_induced_cause_first(
    incident_url: str, tmp_path: Path, database_url: str, database: Any, tokens: dict[str, str]
) -> None:
    config = make_config(
        tmp_path,
        database_url,
        sources=[{"name": "prom", "type": "prometheus", "url": incident_url, "timeout_s": 30}],
        detectors=[
            {
                "name": "latency",
                "source": "prom",
                "query": "vigil_latency",
                "window": "10m",
                "interval": "30s",
                "analysis": {"type": "threshold", "above": 0.7},
                "diagnose": {"queries": ['{job="api"}'], "lookback": "80m", "after": "9m"},
            }
        ],
    )
    now = ALERT_AT + timedelta(seconds=60)
    with database.write() as session:
        assert lease.acquire(session, holder="e2e", now=now, ttl_s=60)
    run = job.run(database, config, config.detectors[0], _client(config), holder="e2e", now=now, slot=None)
    assert run is not None and run.error is None
    worker = DiagnosisWorker(database, config, {}, holder="e2e", clock=lambda: ALERT_AT + timedelta(minutes=10))
    assert worker.run_pending() == 1
    app = create_app(config)
    client = Client(app.test_client(), tokens).as_("viewer")
    [alert] = client.get("/api/v1/alerts").get_json()["items"]
    body = client.get(f"/api/v1/alerts/{alert['id']}/diagnosis").get_json()
    app.extensions["vigil.db"].dispose()
    assert body["state"] == "done", body.get("error")
    assert (body["signals"], body["analysed"]) == (SIGNALS + 1, SIGNALS)  # the alert's own series is left out
    assert body["suspects"][0]["labels"] == {"__name__": "vigil_signal", "job": "api", "i": "cause"}, [
        s["labels"] for s in body["suspects"][:5]
    ]
    assert abs(body["suspects"][0]["lead_s"] - 20 * STEP_S) <= 2 * STEP_S


def _client(config: Any) -> Any:
    from detectors.sources import build_source

    return build_source(config.sources[0])
