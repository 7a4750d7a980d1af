"""The real thing end to end: Debian's Prometheus and Alertmanager, Vigil served by
Gunicorn with its scheduler, a test exporter, and a recording chat receiver, all on loopback.

A metric flips to a bad level; (a) a Vigil detector on the Prometheus source fires and its
bound remediation runs, and (b) a Prometheus alert rule fires, Alertmanager posts to Vigil's
ingest endpoint and that alert's bound remediation runs. Flipping back resolves both.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
import yaml
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from tests.helpers import free_port

TOKEN = "e2e-ingest-token-0123456789"
pytestmark = pytest.mark.slow


class Recorder:
    """An exporter (GET /metrics) and a chat webhook (POST /hook) on one loopback server."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.gauge = Gauge("vigil_e2e_value", "the value the test flips", registry=self.registry)
        self.gauge.set(1)
        self.received: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = generate_latest(recorder.registry)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                recorder.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def wait_for(what: str, predicate: Callable[[], Any], timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except requests.RequestException:
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)


@pytest.fixture
def stack(tmp_path: Path):
    rec = Recorder()
    prom_port, am_port, vigil_port = free_port(), free_port(), free_port()
    vigil = f"http://127.0.0.1:{vigil_port}"
    (tmp_path / "rules.yml").write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "e2e",
                        "interval": "1s",
                        "rules": [
                            {
                                "alert": "E2EValueHigh",
                                "expr": "vigil_e2e_value > 10",
                                "for": "0s",
                                "labels": {"severity": "critical", "service": "e2e"},
                                "annotations": {"summary": "value too high"},
                            }
                        ],
                    }
                ]
            }
        )
    )
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(tmp_path / "rules.yml")],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "scrape_configs": [{"job_name": "e2e", "static_configs": [{"targets": [f"127.0.0.1:{rec.port}"]}]}],
            }
        )
    )
    (tmp_path / "alertmanager.yml").write_text(
        yaml.safe_dump(
            {
                "route": {
                    "receiver": "vigil",
                    "group_by": ["alertname"],
                    "group_wait": "0s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "vigil",
                        "webhook_configs": [
                            {
                                "url": f"{vigil}/api/v1/ingest/alertmanager",
                                "send_resolved": True,
                                "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}},
                            }
                        ],
                    }
                ],
            }
        )
    )
    script = '#!/bin/sh\ncat > /dev/null\necho "remediated $VIGIL_ALERT_DETECTOR"\n'
    (tmp_path / "vigil.yaml").write_text(
        yaml.safe_dump(
            {
                "settings": {
                    "port": vigil_port,
                    "workers": 2,
                    "data_dir": str(tmp_path / "data"),
                    "public_url": vigil,
                    "scheduler": {"lease_ttl_s": 5, "renew_every_s": 1, "jitter_s": 0},
                },
                "sources": [{"name": "prom", "type": "prometheus", "url": f"http://127.0.0.1:{prom_port}"}],
                "detectors": [
                    {
                        "name": "e2e-value",
                        "source": "prom",
                        "query": "vigil_e2e_value",
                        "interval": "1s",
                        "window": "30s",
                        "step": "1s",
                        "severity": "critical",
                        "analysis": {"type": "threshold", "above": 10},
                    }
                ],
                "bindings": [
                    {"name": "fix-detector", "remediation": "e2e-fix", "detector": "e2e-value", "mode": "auto"},
                    {"name": "fix-am", "remediation": "e2e-fix", "detector": "E2EValueHigh", "mode": "auto"},
                ],
                "channels": [
                    {
                        "name": "chat",
                        "type": "generic",
                        "url": f"http://127.0.0.1:{rec.port}/hook",
                        "secret": "e2e-chat-secret-0123456789",
                        "group_wait_s": 0,
                    }
                ],
                "ingest": {"alertmanager": {"token": TOKEN}},
            }
        )
    )
    env = {
        **os.environ,
        "VIGIL_ADMIN_TOKEN": "e2e-admin-token-0123456789",
        "VIGIL_CONFIG": str(tmp_path / "vigil.yaml"),
    }
    env.pop("DATABASE_URL", None)
    procs = [
        start(
            [
                "prometheus",
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            tmp_path / "prometheus.log",
        ),
        start(
            [
                "prometheus-alertmanager",
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            tmp_path / "alertmanager.log",
        ),
        start([sys.executable, "-m", "app", "serve"], tmp_path / "vigil.log", env),
    ]
    admin = {"Authorization": "Bearer e2e-admin-token-0123456789"}
    try:
        wait_for("vigil", lambda: requests.get(f"{vigil}/api/v1/ready", timeout=2).ok)
        wait_for("prometheus", lambda: requests.get(f"http://127.0.0.1:{prom_port}/-/ready", timeout=2).ok)
        wait_for("alertmanager", lambda: requests.get(f"http://127.0.0.1:{am_port}/-/ready", timeout=2).ok)
        registered = requests.post(
            f"{vigil}/api/v1/remediations",
            headers=admin,
            timeout=5,
            json={"name": "e2e-fix", "script": script, "timeout_s": 10},
        )
        assert registered.status_code == 201, registered.text
        yield rec, vigil, admin, tmp_path
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        rec.server.shutdown()


def test_detector_and_alertmanager_alerts_both_remediate_and_resolve(stack) -> None:
    rec, vigil, admin, tmp_path = stack

    def alerts(state: str) -> dict[str, dict[str, Any]]:
        items = requests.get(f"{vigil}/api/v1/alerts?state={state}", headers=admin, timeout=5).json()["items"]
        return {a["detector"]: a for a in items}

    def executions() -> dict[str, dict[str, Any]]:
        items = requests.get(f"{vigil}/api/v1/executions?state=succeeded", headers=admin, timeout=5).json()["items"]
        by_alert = {e["alert_id"]: e for e in items}
        return {name: by_alert[a["id"]] for name, a in alerts("firing").items() if a["id"] in by_alert}

    wait_for(
        "a quiet start",
        lambda: requests.get(f"{vigil}/api/v1/detectors/e2e-value", headers=admin, timeout=5).json()["status"],
        60,
    )
    assert alerts("firing") == {}
    flipped = time.time()
    rec.gauge.set(50)
    done = wait_for("both remediations", lambda: (lambda e: e if len(e) == 2 else None)(executions()), 90)
    assert set(done) == {"e2e-value", "E2EValueHigh"}
    firing = alerts("firing")
    assert firing["E2EValueHigh"]["source"] == "alertmanager" and firing["e2e-value"]["source"] == "detector"
    latencies = {}
    for name, execution in done.items():
        detail = requests.get(f"{vigil}/api/v1/executions/{execution['id']}", headers=admin, timeout=5).json()
        assert f"remediated {name}" in detail["output"]
        started = _epoch(detail["started_at"])
        latencies[name] = (started - _epoch(firing[name]["fired_at"]), started - flipped)
    wait_for("chat messages", lambda: {m["event"] for m in rec.received} >= {"alert.firing", "remediation.succeeded"})

    rec.gauge.set(1)
    wait_for("both resolved", lambda: {"e2e-value", "E2EValueHigh"} <= set(alerts("resolved")), 90)
    wait_for("resolved in chat", lambda: "alert.resolved" in {m["event"] for m in rec.received})
    for name, (from_alert, from_flip) in latencies.items():
        print(
            f"e2e latency {name}: alert fired -> script started {from_alert * 1000:.0f} ms; "
            f"metric flipped -> script started {from_flip:.1f} s"
        )


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()
