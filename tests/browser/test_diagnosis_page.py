"""The alert page's suspects in Debian's Chromium: the diagnosis' top suspects are drawn as
small multiples, the induced cause first, against a real Gunicorn on loopback.

The diagnosis is made before the server starts, by the real worker against a loopback
Prometheus-shaped server (tests/integration/diagnostics/test_diagnosis_service.py's data).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import yaml

from app import database_for, migrate
from app.alerts import service as alerts
from app.auth import service as auth
from app.diagnostics.worker import DiagnosisWorker
from app.reactions import react
from config.loader import load
from detectors.findings import Finding
from tests.browser.conftest import CHROMIUM, Page, Served, _wait_ready
from tests.browser.seed import Seeded
from tests.browser.test_dashboard import CANVAS_INK
from tests.helpers import free_port
from tests.integration.diagnostics.test_diagnosis_service import START, _answer

pytestmark = pytest.mark.slow  # starts Gunicorn and Chromium


def _prometheus() -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            payload = _answer(parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _diagnosed(tmp: Path, port: int, prometheus_url: str) -> tuple[Path, dict[str, str], int]:
    """A config file, tokens and a diagnosed alert, written before the server starts."""
    raw = {
        "settings": {"data_dir": str(tmp / "data"), "port": port, "workers": 1},
        "sources": [{"name": "prom", "type": "prometheus", "url": prometheus_url, "timeout_s": 10}],
        "detectors": [
            {
                "name": "latency",
                "source": "prom",
                "query": "latency",
                "analysis": {"type": "threshold", "above": 1},
                "diagnose": {"queries": ['{job="api"}'], "lookback": "30m", "after": "5m"},
            }
        ],
    }
    path = tmp / "vigil.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = load(path, {})
    database = database_for(config)
    migrate.upgrade(database)
    with database.write() as s:
        _row, token = auth.create(s, name="viewer-token", role="viewer", by="test")
        finding = Finding(
            kind="threshold",
            labels={"__name__": "latency", "job": "api"},
            state="firing",
            value=3.0,
            threshold=1.0,
            active_since=START,
        )
        transitions = alerts.apply(
            s, detector="latency", severity="warning", static_labels={}, findings=[finding], now=START
        )
        react(s, transitions, now=START, config=config)
        alert_id = transitions[0].alert_id
    assert DiagnosisWorker(database, config, {}, holder="t", clock=lambda: START + timedelta(minutes=6)).run_pending()
    database.dispose()
    return path, {"viewer": token}, alert_id


@pytest.fixture(scope="module")
def diagnosed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, int]]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/services.sh installs Debian's chromium)")
    tmp = tmp_path_factory.mktemp("diagnosis-page")
    prometheus = _prometheus()
    port = free_port()
    try:
        config_path, tokens, alert_id = _diagnosed(tmp, port, f"http://127.0.0.1:{prometheus.server_address[1]}")
    finally:
        prometheus.shutdown()
        prometheus.server_close()
    env = {k: v for k, v in os.environ.items() if k not in ("VIGIL_ADMIN_TOKEN", "DATABASE_URL")}
    env.update({"VIGIL_CONFIG": str(config_path), "VIGIL_PORT": str(port), "VIGIL_DATA_DIR": str(tmp / "data")})
    log_path = tmp / "serve.log"
    with open(log_path, "w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--no-scheduler"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, proc, log_path)
            yield Served(base, Seeded(tokens, alert_id, 0, 0, 0, 0), log_path), alert_id
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)


def test_the_top_suspects_are_drawn_as_small_multiples_cause_first(browser: Any, diagnosed: tuple[Served, int]) -> None:
    served, alert_id = diagnosed
    tab = Page(browser, served)
    try:
        tab.login("viewer")
        tab.page.goto(f"/alerts/{alert_id}")
        tab.page.wait_for_selector("#suspects .chart-small canvas")
        figures = tab.page.locator("#suspects figure.suspect")
        assert 1 <= figures.count() <= 10
        assert "pool_waiting" in figures.nth(0).inner_text()  # the induced cause comes first
        for i in range(figures.count()):
            selector = f"#suspects .chart-small[data-suspect='{i}'] canvas"
            tab.page.wait_for_selector(selector)
            drawn = tab.page.evaluate(CANVAS_INK, selector)
            assert drawn["width"] > 0 and drawn["ink"] > 500, (i, drawn)  # a line, axes and marks: not blank
        assert tab.errors == []
    finally:
        tab.close()
