"""Diagnosis of a scrape source without queries: every series a real loopback exporter
serves (hundreds: gauges, counters, a histogram), from the ring of recent scrapes the
scheduler's source keeps. One counter's rate steps 3 minutes before the alert; the
diagnosis names it first. With backend rq it still runs in the scheduler's thread, where
that history lives."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from app import create_app
from app.detection import job, lease
from app.scheduler import Scheduler
from tests.conftest import make_config
from tests.helpers import Client

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
STEP_S, TICKS, ALERT_TICK, CAUSE_TICK, CONSEQUENCE_TICK = 10, 96, 80, 62, 86
CAUSE = {"__name__": "db_connections_waiting_total", "db": "main"}
BUCKETS = ("0.1", "0.5", "1", "5", "+Inf")


def _expositions() -> list[str]:
    """The exporter's /metrics text at every tick."""
    rng = np.random.default_rng(19)
    gauges = 50 + rng.normal(0, 1, (300, TICKS))
    rates = 10 + rng.normal(0, 0.5, (60, TICKS))
    requests = np.cumsum(rates * STEP_S, axis=1)
    waiting = np.cumsum(np.where(np.arange(TICKS) >= CAUSE_TICK, 6.0, 1.0) * STEP_S + rng.normal(0, 1, TICKS))
    latency = 0.2 + rng.normal(0, 0.01, TICKS) + 1.8 * (np.arange(TICKS) >= ALERT_TICK)
    misses = 100 + rng.normal(0, 2, TICKS) + 40 * (np.arange(TICKS) >= CONSEQUENCE_TICK)
    observed = np.cumsum(rng.poisson(20, (len(BUCKETS), TICKS)), axis=1).cumsum(axis=0)
    pages = []
    for k in range(TICKS):
        lines = ["# TYPE worker_queue_depth gauge"]
        lines += [f'worker_queue_depth{{worker="w{i}"}} {gauges[i, k]:.4f}' for i in range(300)]
        lines += ["# TYPE http_requests_total counter"]
        lines += [f'http_requests_total{{path="/p{j}",code="200"}} {requests[j, k]:.1f}' for j in range(60)]
        lines += [
            f'db_connections_waiting_total{{db="main"}} {waiting[k]:.1f}',  # untyped
            "# TYPE api_latency_seconds gauge",
            f"api_latency_seconds {latency[k]:.4f}",
            "# TYPE cache_misses gauge",
            f"cache_misses {misses[k]:.2f}",
            "# TYPE rpc_duration_seconds histogram",
        ]
        lines += [f'rpc_duration_seconds_bucket{{le="{le}"}} {observed[b, k]}' for b, le in enumerate(BUCKETS)]
        lines += [f"rpc_duration_seconds_count {observed[-1, k]}", f"rpc_duration_seconds_sum {observed[-1, k] * 0.3}"]
        pages.append("\n".join(lines) + "\n")
    return pages


class Exporter:
    """Serves the page of the current tick at /metrics."""

    def __init__(self) -> None:
        self.pages, self.tick = _expositions(), 0
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.pages[exporter.tick].encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    served = Exporter()
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_it_names_the_counter_that_moved_first_among_every_series_of_the_target(
    exporter: Exporter, tmp_path: Any, database_url: str, database: Any, tokens: dict[str, str]
) -> None:
    config = make_config(
        tmp_path,
        database_url,
        settings={"automation": {"backend": "rq", "redis_url": "redis://127.0.0.1:6379/0"}},
        sources=[{"name": "app", "type": "scrape", "url": exporter.url}],
        detectors=[
            {
                "name": "latency",
                "source": "app",
                "query": "api_latency_seconds",
                "interval": f"{STEP_S}s",
                "window": "1m",
                "analysis": {"type": "threshold", "above": 1.0},
                "diagnose": {"lookback": "10m", "after": "2m"},
            }
        ],
    )
    clock = {"now": T0}
    scheduler = Scheduler(config, database, holder="scheduler", clock=lambda: clock["now"])
    source = scheduler.sources["app"]
    try:
        for k in range(TICKS):  # the detector job, one run per tick, on a simulated clock
            exporter.tick, clock["now"] = k, T0 + timedelta(seconds=STEP_S * k)
            with database.write() as session:
                assert lease.acquire(session, holder="scheduler", now=clock["now"], ttl_s=3600)
            run = job.run(
                database, config, config.detectors[0], source, holder="scheduler", now=clock["now"], slot=None
            )
            assert run is not None and run.error is None
        assert scheduler.diagnosis.remote is not None  # backend rq ...
        assert scheduler.diagnosis.run_pending() == 1  # ... yet a scrape target's history is only here
    finally:
        scheduler.shutdown()
    app = create_app(config)
    client = Client(app.test_client(), tokens).as_("viewer")
    [alert] = client.get("/api/v1/alerts").get_json()["items"]
    body = client.get(f"/api/v1/alerts/{alert['id']}/diagnosis").get_json()
    app.extensions["vigil.db"].dispose()
    assert body["state"] == "done", body.get("error")
    assert body["signals"] >= 370 and body["window"]["truncated"] is False
    top = body["suspects"][0]
    assert top["labels"] == CAUSE, [(s["labels"], s["lead_s"], s["score"]) for s in body["suspects"][:5]]
    assert top["direction"] == "up" and abs(top["lead_s"] - STEP_S * (ALERT_TICK - CAUSE_TICK)) <= 2 * STEP_S
    assert top["before"] == pytest.approx(1.0, abs=0.5) and top["after"] == pytest.approx(6.0, abs=0.5)  # per second
    names = [s["labels"]["__name__"] for s in body["suspects"]]
    assert "cache_misses" in names and names.index("cache_misses") > 0  # moved after the alert: not the cause
