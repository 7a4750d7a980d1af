"""The remediation loop end to end, as chat users see it (issue 19's scenario).

A loopback stand-in for Prometheus feeds four threshold detectors run by the real
detector job; an auto binding fixes `cpu`, an approve binding waits for a person on
`latency` (approved from a signed Slack button press) and on `disk` (nobody answers: it
expires), and a failing auto binding on a burst of six `burst` alerts stops at its
breaker. A Slack bot, a Mattermost bot and a generic webhook receive it all; the test
asserts each channel's event order per alert, one Slack thread per alert, and the same
effectiveness in the API and /metrics.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from sqlalchemy import select

from app.alerts.models import Alert
from app.auth import service as auth
from app.detection import job
from detectors.sources import build_source
from tests.integration.notify.chat_harness import OPERATOR, SIGNING_SECRET, ChatVigil, wait_for

HIGH = {"cpu": 97.0, "latency": 2.5, "disk": 99.0, "burst": 50.0}
LOW = {"cpu": 20.0, "latency": 0.1, "disk": 40.0, "burst": 1.0}
BURST = 6


class Prometheus:
    """query_range for each detector's query: one constant series (six for `burst`)."""

    def __init__(self) -> None:
        self.values = dict(LOW)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                query, start, end = form["query"][0], float(form["start"][0]), float(form["end"][0])
                step = float(form["step"][0])
                points = [[start + i * step, str(fake.values[query])] for i in range(int((end - start) / step) + 1)]
                names = [f"b{i}" for i in range(BURST)] if query == "burst" else ["web-1"]
                result = [{"metric": {"instance": n}, "values": points} for n in names]
                data = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def prometheus() -> Iterator[Prometheus]:
    fake = Prometheus()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def loop(tmp_path, database, database_url, slack, mattermost, webhook, prometheus) -> Iterator[ChatVigil]:
    detectors = [
        {
            "name": name,
            "source": "prom",
            "query": name,
            "interval": "10s",
            "window": "1m",
            "analysis": {"type": "threshold", "above": (HIGH[name] + LOW[name]) / 2},
        }
        for name in HIGH
    ]
    vigil = ChatVigil(
        tmp_path,
        database,
        database_url,
        slack,
        mattermost,
        generic_url=webhook.url,
        sections={
            "sources": [{"type": "prometheus", "name": "prom", "url": prometheus.url, "timeout_s": 60}],
            "detectors": detectors,
        },
    )
    yield vigil
    vigil.close()


def _run_detectors(loop: ChatVigil) -> None:
    source = build_source(loop.config.sources[0])
    for definition in loop.config.detectors:
        # The detector job as the scheduler runs it (holder checks the lease: take it first).
        job.run(
            loop.database,
            loop.config,
            definition,
            source,
            holder="test",
            now=datetime.now(timezone.utc),
            slot=None,
            on_queued=loop.dispatcher.dispatch,
        )


def _hold_lease(loop: ChatVigil) -> None:
    from app.detection import lease

    with loop.database.write() as session:
        lease.acquire(session, holder="test", now=datetime.now(timezone.utc), ttl_s=3600)


def _alert_ids(loop: ChatVigil) -> dict[str, list[int]]:
    with loop.database.read() as session:
        ids: dict[str, list[int]] = defaultdict(list)
        for alert in session.scalars(select(Alert).order_by(Alert.id)):
            ids[alert.detector].append(alert.id)
        return ids


def test_the_loop_in_chat_order_threads_approval_expiry_burst_and_effectiveness(
    loop, slack, mattermost, webhook, prometheus, database
) -> None:
    for name, script in (
        ("scale", "#!/bin/sh\necho scaled\n"),
        ("restart", "#!/bin/sh\necho restarted\n"),
        ("clean", "#!/bin/sh\necho cleaned\n"),
        ("flaky", "#!/bin/sh\necho broken >&2\nexit 1\n"),
    ):
        loop.register(name, script)
    loop.bind("scale-cpu", "scale", "auto", detector="cpu")
    loop.bind("restart-latency", "restart", "approve", detector="latency")
    loop.bind("clean-disk", "clean", "approve", detector="disk", approval_timeout="1s")
    loop.bind("flaky-burst", "flaky", "auto", detector="burst", breaker_threshold=3, cooldown=0, rate_limit=100)
    _hold_lease(loop)

    prometheus.values = dict(HIGH)
    _run_detectors(loop)
    loop.settle()

    # latency: approved from Slack with a signed button press.
    latency = _alert_ids(loop)["latency"][0]
    request = wait_for(
        lambda: next(
            (m for m in slack.order_messages() if "vigil_approve" in m.text and f"/alerts/{latency}" in m.text), None
        )
    )
    answer = slack.press(loop.url, request, "vigil_approve", user=OPERATOR, signing_secret=SIGNING_SECRET)
    assert answer.status_code == 200 and answer.json()["ok"] is True
    loop.settle()

    # disk: nobody answers; the approval expires after its 1 s timeout.
    def disk_expired() -> bool:
        loop.dispatcher.dispatch()
        return any(e.remediation == "clean" and e.state == "expired" for e in loop.executions())

    assert wait_for(disk_expired)

    prometheus.values = dict(LOW)
    _run_detectors(loop)
    loop.settle()

    runs = defaultdict(list)
    for e in loop.executions():
        runs[e.remediation].append(e.state)
    assert runs["scale"] == ["succeeded"] and runs["restart"] == ["succeeded"] and runs["clean"] == ["expired"]
    assert runs["flaky"].count("failed") == 3, runs["flaky"]  # the breaker stopped the burst at its threshold
    assert slack.problems == [] and mattermost.problems == []

    ids = _alert_ids(loop)
    # One Slack thread per alert: every alert has exactly one root, and its events are replies to it.
    roots = {re.search(r"/alerts/(\d+)", m.text).group(1): m for m in slack.roots()}
    assert sorted(map(int, roots)) == sorted(i for group in ids.values() for i in group)
    assert all(m.thread in {r.ref for r in roots.values()} for m in slack.messages.values() if m.thread)
    assert _titles(roots[str(ids["cpu"][0])])[-1].endswith("Resolved: cpu")
    cpu_thread = [_first_line(m) for m in slack.thread(roots[str(ids["cpu"][0])])]
    assert cpu_thread == ["Remediation started: cpu", "Remediation succeeded: cpu", "Resolved: cpu"]
    latency_thread = [_first_line(m) for m in slack.thread(roots[str(latency)])]
    assert latency_thread == [
        "Approved by alice: latency",
        "Remediation started: latency",
        "Remediation succeeded: latency",
        "Resolved: latency",
    ]

    # The generic channel: each alert's events in the order they happened.
    order: dict[int, list[str]] = defaultdict(list)
    for received in webhook.received:
        for alert in received.json["alerts"]:
            order[alert["alert_id"]].append(received.json["event"])
    assert order[ids["cpu"][0]] == ["alert.firing", "remediation.started", "remediation.succeeded", "alert.resolved"]
    assert order[latency] == [
        "alert.firing",
        "approval.requested",
        "remediation.started",
        "remediation.succeeded",
        "alert.resolved",
    ]
    assert order[ids["disk"][0]] == ["alert.firing", "approval.requested", "alert.resolved"]

    # Effectiveness: the API and /metrics say the same.
    with database.write() as session:
        _row, token = auth.create(session, name="reader", role="viewer", by="test")
    stats = requests.get(
        f"{loop.url}/api/v1/remediations/scale/stats", timeout=10, headers={"Authorization": f"Bearer {token}"}
    ).json()
    metrics = requests.get(f"{loop.url}/metrics", timeout=10).text
    found = re.search(
        r'^vigil_remediation_outcomes_total\{outcome="effective",remediation="scale"\} (\S+)$', metrics, re.M
    ) or re.search(
        r'^vigil_remediation_outcomes_total\{remediation="scale",outcome="effective"\} (\S+)$', metrics, re.M
    )
    assert stats["effective"] == 1 and found and float(found.group(1)) == 1


def _titles(message) -> list[str]:
    return [body["blocks"][0]["text"]["text"] for body in message.versions]


def _first_line(message) -> str:
    return message.body["blocks"][0]["text"]["text"].split(" ", 1)[1]
