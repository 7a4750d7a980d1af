"""A detector whose source fails or answers nothing raises its own error / nodata alert.

A real http.server on loopback stands in for Prometheus: it answers 500, hangs past the
source's timeout, answers an empty result, then recovers; the alerts go out through a real
channel (a loopback webhook) and obey silences like any alert.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from app.alerts.models import Alert
from app.detection import job
from app.detection.models import DetectorStatus
from app.notify.sender import Sender
from app.silences import service as silences
from config.loader import from_dict
from detectors.sources import build_source
from tests.integration.notify.conftest import webhook, webhooks  # noqa: F401 - fixtures

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
OK = {
    "status": "success",
    "data": {"resultType": "matrix", "result": [{"metric": {"instance": "web-1"}, "values": [[T0.timestamp(), "1"]]}]},
}
EMPTY = {"status": "success", "data": {"resultType": "matrix", "result": []}}


class FakePrometheus:
    """Answers query_range as `mode` says: ok, empty, 500 or hang (longer than the timeout)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if fake.mode == "hang":
                    fake.release.wait(10)
                    return
                status, body = {
                    "ok": (200, OK),
                    "empty": (200, EMPTY),
                    "500": (500, {"status": "error", "error": "boom"}),
                }[fake.mode]
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET  # the client sends query_range as a form POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    yield fake
    fake.close()


def _config(prometheus: FakePrometheus, channel_url: str, **detector: Any) -> Any:
    return from_dict(
        {
            "sources": [{"type": "prometheus", "name": "prom", "url": prometheus.url, "timeout_s": 2}],
            "detectors": [
                {
                    "name": "api",
                    "source": "prom",
                    "query": "up",
                    "interval": "60s",
                    "window": "5m",
                    "analysis": {"type": "threshold", "above": 5},
                    **detector,
                }
            ],
            "channels": [
                {
                    "type": "generic",
                    "name": "hook",
                    "url": channel_url,
                    "secret": "0123456789abcdef-secret",
                    "group_wait_s": 0,
                }
            ],
        },
        {},
    )


class Detector:
    def __init__(self, database: Any, config: Any) -> None:
        self.database, self.config = database, config
        self.definition = config.detectors[0]
        self.source = build_source(config.sources[0])

    def run(self, minute: float) -> None:
        job.run(
            self.database,
            self.config,
            self.definition,
            self.source,
            holder="h",
            now=T0 + timedelta(minutes=minute),
            slot=None,
        )

    def blind_alerts(self) -> list[tuple[str, str, str]]:
        with self.database.read() as session:
            return [
                (a.kind, a.state, a.severity)
                for a in session.scalars(select(Alert).where(Alert.kind.in_(("error", "nodata"))).order_by(Alert.id))
            ]


def _hold_lease(database: Any) -> None:
    from app.detection import lease

    with database.write() as session:
        lease.acquire(session, holder="h", now=T0, ttl_s=86400 * 365)


def test_it_raises_an_error_alert_after_for_of_failures_and_resolves_when_data_returns(
    database, prometheus, webhook
) -> None:
    config = _config(prometheus, webhook.url, on_error={"for": "3m", "severity": "critical"})
    _hold_lease(database)
    detector = Detector(database, config)
    detector.run(0)
    prometheus.mode = "500"
    for minute in (1, 2, 3):
        detector.run(minute)
        assert detector.blind_alerts() == []  # failing for 0, 1 and 2 minutes: not yet
    prometheus.mode = "hang"  # a timeout is a failure too (the stand-in holds the request until released)
    detector.run(4)
    assert detector.blind_alerts() == [("error", "firing", "critical")]
    with database.read() as session:
        alert = session.scalar(select(Alert).where(Alert.kind == "error"))
        assert alert.labels == {"vigil_status": "error"} and alert.started_at == T0 + timedelta(minutes=1)
        assert "timed out after 2s" in alert.message
    prometheus.release.set()
    prometheus.mode = "ok"
    detector.run(5)
    assert detector.blind_alerts() == [("error", "resolved", "critical")]
    Sender(database, config.channels).run_once(T0 + timedelta(days=1))
    events = [(r.json["event"], r.json["alerts"][0]["labels"]) for r in webhook.received]
    assert events == [("alert.firing", {"vigil_status": "error"}), ("alert.resolved", {"vigil_status": "error"})]


def test_it_raises_a_nodata_alert_after_three_intervals_of_empty_answers_by_default(
    database, prometheus, webhook
) -> None:
    detector = Detector(database, _config(prometheus, webhook.url))
    _hold_lease(database)
    prometheus.mode = "empty"
    for minute in (0, 1, 2):
        detector.run(minute)
    assert detector.blind_alerts() == []
    detector.run(3)
    assert detector.blind_alerts() == [("nodata", "firing", "warning")]
    with database.read() as session:
        status = session.get(DetectorStatus, "api")
        assert status.no_data_since == T0 and status.error_since is None
    prometheus.mode = "ok"
    detector.run(4)
    assert detector.blind_alerts() == [("nodata", "resolved", "warning")]


def test_it_raises_nothing_when_the_rule_is_off(database, prometheus, webhook) -> None:
    detector = Detector(
        database, _config(prometheus, webhook.url, on_error={"alert": False}, on_no_data={"alert": False})
    )
    _hold_lease(database)
    prometheus.mode = "500"
    for minute in range(6):
        detector.run(minute)
    prometheus.mode = "empty"
    for minute in range(6, 12):
        detector.run(minute)
    assert detector.blind_alerts() == []


def test_a_silence_keeps_the_error_alert_out_of_chat(database, prometheus, webhook) -> None:
    config = _config(prometheus, webhook.url, on_error={"for": 0})
    _hold_lease(database)
    with database.write() as session:
        silences.create(
            session,
            matchers=[silences.Matcher("vigil_status", "=", "error")],
            starts_at=T0,
            ends_at=T0 + timedelta(hours=1),
            comment="prometheus upgrade",
            by="test",
            is_admin=True,
            max_duration_s=86400,
            now=T0,
        )
    detector = Detector(database, config)
    prometheus.mode = "500"
    detector.run(0)
    assert detector.blind_alerts() == [("error", "firing", "warning")]
    Sender(database, config.channels).run_once(T0 + timedelta(days=1))
    assert webhook.received == []
