"""Diagnoses on RQ workers (backend rq) against the real Redis on 127.0.0.1:6379 and real
`vigil worker` processes: the scheduler's thread only hands them over, a worker claims and
runs each once, and a job lost with its worker is run again (or failed with the reason)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs

import numpy as np
import pytest
import yaml
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import select

from app.alerts import service as alerts
from app.diagnostics import remote
from app.diagnostics.models import Diagnosis
from app.diagnostics.remote import RemoteDiagnoses
from app.diagnostics.worker import DiagnosisWorker
from app.notify.sender import Sender
from app.reactions import react
from config.loader import from_dict
from detectors.findings import Finding
from tests.helpers import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
START = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
CAUSE = {"__name__": "pool_waiting", "job": "api", "instance": "db-1"}


class GatedPrometheus:
    """query_range answers (200 noisy series, CAUSE stepping 5 minutes before START) held
    back until `gate` is set; `started` is set when a request arrives."""

    def __init__(self) -> None:
        self.gate, self.started, self.requests = threading.Event(), threading.Event(), 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                fake.requests += 1
                fake.started.set()
                fake.gate.wait(60)
                payload = _matrix(form)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker was killed while waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def _matrix(form: dict[str, list[str]]) -> bytes:
    start, end, step = (float(form[k][0]) for k in ("start", "end", "step"))
    t = np.arange(start, end + step / 2, step)
    rng = np.random.default_rng(3)
    result = []
    for i in range(200):
        labels = CAUSE if i == 42 else {"__name__": f"metric_{i % 20}", "job": "api", "instance": f"web-{i // 20}"}
        v = 50 + rng.normal(0, 1, t.size) + (8 * (t >= START.timestamp() - 300) if i == 42 else 0)
        result.append({"metric": labels, "values": [[float(a), f"{b:.4f}"] for a, b in zip(t, v)]})
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()


class Inbox:
    """A generic webhook receiver on loopback: the titles of what it was sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                inbox.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RQVigil:
    def __init__(
        self, tmp_path: Path, database: Any, database_url: str, prometheus: GatedPrometheus, inbox: Inbox
    ) -> None:
        self.database, self.queue = database, f"vigil-test-diag-{uuid.uuid4().hex[:8]}"
        detector = {"source": "prom", "query": "latency", "analysis": {"type": "threshold", "above": 1}}
        raw = {
            "settings": {
                "data_dir": str(tmp_path / "data"),
                "database_url": database_url,
                "automation": {"backend": "rq", "redis_url": REDIS_URL},
            },
            "sources": [{"name": "prom", "type": "prometheus", "url": prometheus.url, "timeout_s": 60}],
            "detectors": [
                {
                    "name": "latency",
                    **detector,
                    "diagnose": {"queries": ['{job="api"}'], "lookback": "30m", "after": "5m"},
                },
                {"name": "plain", **detector},
            ],
            "channels": [
                {
                    "type": "generic",
                    "name": "bridge",
                    "url": inbox.url,
                    "secret": "0123456789abcdef-s",
                    "group_wait_s": 0,
                }
            ],
        }
        self.path = tmp_path / "vigil.yaml"
        self.path.write_text(yaml.safe_dump(raw))
        self.config = from_dict(raw, {})
        self.remote = RemoteDiagnoses(REDIS_URL, queue=self.queue)
        self.workers: list[subprocess.Popen[bytes]] = []

    def scheduler(self, at: datetime) -> DiagnosisWorker:
        """The scheduler's diagnosis thread, one pass at a time, on a fixed clock."""
        return DiagnosisWorker(self.database, self.config, {}, holder="scheduler", clock=lambda: at, remote=self.remote)

    def fire(self, detector: str, instance: str = "api-1") -> int:
        finding = Finding(
            kind="threshold",
            labels={"__name__": "latency", "job": "api", "instance": instance},
            state="firing",
            value=3.0,
            threshold=1.0,
            active_since=START,
        )
        with self.database.write() as session:
            transitions = alerts.apply(
                session, detector=detector, severity="warning", static_labels={}, findings=[finding], now=START
            )
            react(session, transitions, now=START, config=self.config)
            return transitions[0].alert_id

    def row(self, alert_id: int) -> Diagnosis:
        with self.database.read() as session:
            row = session.scalars(select(Diagnosis).where(Diagnosis.alert_id == alert_id)).one()
            session.expunge(row)
            return row

    def worker(self, *extra: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "worker", "--config", str(self.path), "--queues", self.queue, *extra],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.workers.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        Queue(self.queue, connection=Redis.from_url(REDIS_URL), serializer=JSONSerializer).delete(delete_jobs=True)


@pytest.fixture
def vigil(tmp_path: Path, database: Any, database_url: str) -> Iterator[tuple[RQVigil, GatedPrometheus, Inbox]]:
    try:
        Redis.from_url(REDIS_URL).ping()
    except Exception as exc:  # scripts/services.sh starts Redis before the suite
        pytest.fail(f"Redis is not reachable on 127.0.0.1:6379: {exc}")
    prometheus, inbox = GatedPrometheus(), Inbox()
    env = RQVigil(tmp_path, database, database_url, prometheus, inbox)
    yield env, prometheus, inbox
    env.close()
    prometheus.close()
    inbox.close()


def wait_for(predicate: Callable[[], Any], timeout_s: float = 60, every: Callable[[], Any] | None = None) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if every is not None:
            every()
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_a_worker_runs_the_diagnosis_while_alerts_keep_flowing_and_nothing_runs_twice(vigil) -> None:
    env, prometheus, inbox = vigil
    first = env.fire("latency")
    scheduler = env.scheduler(START + timedelta(minutes=6))
    assert scheduler.run_pending() == 0  # handed over, not run in the scheduler's thread
    handed = env.row(first)
    assert (handed.state, handed.claimed_by, handed.attempts) == ("queued", "rq", 1) and prometheus.requests == 0

    env.worker()
    assert prometheus.started.wait(60), "the worker never fetched"
    running = wait_for(lambda: (r := env.row(first)).state == "running" and r)
    assert running.claimed_by.startswith("rq-worker:")

    # While the worker is busy, alerts fire and are announced, and the scheduler's thread is free.
    plain = env.fire("plain")
    second = env.fire("latency", instance="api-2")
    assert scheduler.run_pending() == 0 and scheduler.reconcile() == 0
    Sender(env.database, env.config.channels, public_url="http://vigil.test").run_once(datetime.now(timezone.utc))
    assert sorted(a["alert_id"] for m in inbox.received for a in m["alerts"]) == [first, plain, second]
    assert env.row(first).state == "running" and env.row(second).claimed_by == "rq"

    # The same job delivered twice still runs once.
    Queue(env.queue, connection=env.remote.redis, serializer=JSONSerializer).enqueue(
        "app.worker.diagnose", second, 1, job_id=f"dup-{second}"
    )
    prometheus.gate.set()
    for alert_id in (first, second):
        done = wait_for(lambda alert_id=alert_id: (r := env.row(alert_id)).state in ("done", "failed") and r)
        assert done.state == "done", done.error
        assert done.claimed_by.startswith("rq-worker:") and done.result["suspects"][0]["labels"] == CAUSE
    duplicate = Job.fetch(f"dup-{second}", connection=env.remote.redis, serializer=JSONSerializer)
    assert wait_for(duplicate.return_value).startswith("skipped")
    assert prometheus.requests == 2  # one fetch per diagnosis


def test_a_diagnosis_lost_with_its_killed_worker_is_run_again(vigil) -> None:
    env, prometheus, _ = vigil
    alert_id = env.fire("latency")
    scheduler = env.scheduler(START + timedelta(minutes=6))
    scheduler.clock = lambda: datetime.now(timezone.utc)  # heartbeats are judged on the real clock
    scheduler.run_pending()
    doomed = env.worker()
    assert prometheus.started.wait(60)
    os.killpg(doomed.pid, signal.SIGKILL)  # mid-fetch: the worker dies with the job
    doomed.wait()
    # Its heartbeats stop; reconciliation queues the row again (worker_ttl 15 s, dead after 20 s).
    again = wait_for(lambda: (r := env.row(alert_id)).state == "queued" and r, every=scheduler.reconcile)
    assert again.claimed_by is None and again.attempts == 1 and "heartbeats" in again.error
    prometheus.gate.set()
    scheduler.run_pending()
    assert env.row(alert_id).attempts == 2
    env.worker("--burst").wait(timeout=120)
    done = env.row(alert_id)
    assert done.state == "done" and done.error is None and done.result["suspects"][0]["labels"] == CAUSE


def test_a_diagnosis_no_worker_starts_is_handed_over_again_then_failed_with_the_reason(vigil) -> None:
    env, _, _ = vigil
    alert_id = env.fire("latency")
    at = START + timedelta(minutes=6)
    env.scheduler(at).run_pending()
    later = at + timedelta(seconds=remote.START_TIMEOUT_S + 1)
    assert env.scheduler(later).reconcile() == 1
    assert env.row(alert_id).state == "queued" and "no RQ worker started it" in env.row(alert_id).error
    env.scheduler(later).run_pending()
    assert env.scheduler(later).reconcile() == 0  # the second hand-over has its own time
    assert env.scheduler(later + timedelta(seconds=remote.START_TIMEOUT_S + 1)).reconcile() == 1
    failed = env.row(alert_id)
    assert failed.state == "failed" and failed.attempts == remote.MAX_ATTEMPTS
    assert failed.error.startswith("no RQ worker started it within 600s") and "gave up after 2 attempts" in failed.error


def test_a_job_gone_from_redis_is_handed_over_again(vigil) -> None:
    env, _, _ = vigil
    alert_id = env.fire("latency")
    scheduler = env.scheduler(START + timedelta(minutes=6))
    scheduler.run_pending()
    Queue(env.queue, connection=env.remote.redis, serializer=JSONSerializer).delete(delete_jobs=True)
    assert scheduler.reconcile() == 1 and "its RQ job is gone" in env.row(alert_id).error
    scheduler.run_pending()
    assert (env.row(alert_id).claimed_by, env.row(alert_id).attempts) == ("rq", 2)


def test_with_redis_away_the_diagnosis_waits_unclaimed_for_the_next_pass(vigil) -> None:
    env, _, _ = vigil
    alert_id = env.fire("latency")
    away = RemoteDiagnoses(f"redis://127.0.0.1:{free_port()}/0", queue=env.queue)
    scheduler = DiagnosisWorker(
        env.database, env.config, {}, holder="scheduler", clock=lambda: START + timedelta(minutes=6), remote=away
    )
    assert scheduler.run_pending() == 0
    row = env.row(alert_id)
    assert (row.state, row.claimed_by, row.attempts) == ("queued", None, 0)
    env.scheduler(START + timedelta(minutes=6)).run_pending()  # Redis is back
    assert (env.row(alert_id).claimed_by, env.row(alert_id).attempts) == ("rq", 1)
