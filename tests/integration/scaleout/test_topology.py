"""The scale-out topology on loopback: 2 Gunicorn instances, 2 schedulers, 2 RQ workers,
PostgreSQL and Redis. Alerts arrive while one process of each role is killed with -9;
every alert is recorded once, every bound remediation runs at most once (exactly once
unless its run was cut by the kill, then it is `interrupted`), and nothing is stuck."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from sqlalchemy import create_engine, func, select, text

from app.alerts.models import Alert
from app.automation.models import Execution
from app.db import Database, normalise_url
from app.ingest.models import InboxItem
from tests.helpers import free_port

PG_ADMIN = os.environ.get("VIGIL_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TOKEN = "topology-ingest-token-0123456789"
ADMIN = "topology-admin-token-0123456789"
pytestmark = pytest.mark.slow


@pytest.fixture
def pg_url():
    admin = create_engine(normalise_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    name = f"vigil_topology_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        env=env,
        start_new_session=True,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )


def wait_for(what: str, predicate, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def record_lines() -> tuple[list[str], int]:
    """A loopback listener keeping the line each connection sends; (lines, port)."""
    listener = socket.create_server(("127.0.0.1", 0))
    lines: list[str] = []

    def serve() -> None:
        while True:
            conn, _ = listener.accept()
            with conn, conn.makefile() as stream:
                lines.extend(stream.read().split())

    threading.Thread(target=serve, daemon=True).start()
    return lines, listener.getsockname()[1]


def test_every_alert_once_every_remediation_at_most_once_after_killing_one_of_each(tmp_path, pg_url) -> None:
    ran, recorder = record_lines()  # scripts run isolated: they report over loopback, not in a file
    queue = f"topology-{uuid.uuid4().hex[:6]}"
    (tmp_path / "vigil.yaml").write_text(
        yaml.safe_dump(
            {
                "settings": {
                    "data_dir": str(tmp_path / "data"),
                    "workers": 2,
                    "scheduler": {"lease_ttl_s": 3, "renew_every_s": 0.5, "jitter_s": 0},
                },
                "bindings": [
                    {
                        "name": "fix",
                        "remediation": "fix",
                        "detector": "topology",
                        "mode": "auto",
                        "cooldown": 0,
                        "rate_limit": 1000,
                        "queue": queue,
                        "params": {"who": "{{ labels.who }}"},
                    }
                ],
                "ingest": {"generic": {"token": TOKEN}},
            }
        )
    )
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "VIGIL_EXECUTION_BACKEND": "rq",
        "VIGIL_CONFIG": str(tmp_path / "vigil.yaml"),
        "VIGIL_ADMIN_TOKEN": ADMIN,
    }
    ports = [free_port(), free_port()]
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for i, port in enumerate(ports):
            procs[f"web{i}"] = spawn(["web", "--port", str(port)], env, tmp_path / f"web{i}.log")
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        wait_for("both web instances", lambda: all(requests.get(f"{b}/api/v1/ready", timeout=5).ok for b in bases), 180)
        script = f"#!/bin/bash\nsleep 0.5\nprintf '%s\\n' \"$VIGIL_PARAM_WHO\" > /dev/tcp/127.0.0.1/{recorder}\n"
        answer = requests.post(
            f"{bases[0]}/api/v1/remediations",
            headers={"Authorization": f"Bearer {ADMIN}"},
            json={
                "name": "fix",
                "script": script,
                "timeout_s": 30,
                "max_concurrency": 8,
                "params_schema": {"type": "object"},
            },
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        for i in range(2):
            procs[f"scheduler{i}"] = spawn(["scheduler"], env, tmp_path / f"scheduler{i}.log")
            procs[f"worker{i}"] = spawn(
                ["worker", "--queues", queue, "--name", f"w{i}-{queue}"], env, tmp_path / f"worker{i}.log"
            )
        database = Database(pg_url)

        def leased() -> bool:
            from app.detection.models import SchedulerLease

            with database.read() as session:
                return session.get(SchedulerLease, "scheduler") is not None

        wait_for("a scheduler to take the lease", leased, 60)

        def send(i: int, base: str) -> None:
            body = {"alerts": [{"name": "topology", "status": "firing", "labels": {"who": f"alert-{i}"}}]}
            r = requests.post(
                f"{base}/api/v1/ingest/generic", json=body, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert r.status_code == 202, r.text

        n = 24
        for i in range(n // 2):
            send(i, bases[i % 2])
        time.sleep(1.5)  # let some runs be in flight, then kill one of each role
        holder = _lease_holder(database)
        victim = next(k for k in ("scheduler0", "scheduler1") if f":{procs[k].pid}:" in holder)
        for name in ("web1", victim, "worker0"):
            os.killpg(procs[name].pid, signal.SIGKILL)
            procs[name].wait()
        for i in range(n // 2, n):
            send(i, bases[0])

        def settled() -> bool:
            with database.read() as session:
                busy = session.scalar(
                    select(func.count())
                    .select_from(Execution)
                    .where(Execution.state.in_(("queued", "dispatched", "running")))
                )
                unprocessed = session.scalar(
                    select(func.count()).select_from(InboxItem).where(InboxItem.processed_at.is_(None))
                )
                total = session.scalar(select(func.count()).select_from(Execution))
            return busy == 0 and unprocessed == 0 and total == n

        wait_for("all executions to settle", settled, 300)  # a deadline for a loaded machine, not a timing
        with database.read() as session:
            alerts = session.scalars(select(Alert)).all()
            executions = session.scalars(select(Execution)).all()
        assert sorted(a.labels["who"] for a in alerts) == sorted(f"alert-{i}" for i in range(n))
        assert len({a.fingerprint for a in alerts}) == n, "every alert recorded once"
        assert len({e.alert_id for e in executions}) == n, "one execution per alert"
        states = {e.state for e in executions}
        assert states <= {"succeeded", "interrupted"}, states
        succeeded = {
            a.labels["who"] for a in alerts for e in executions if e.alert_id == a.id and e.state == "succeeded"
        }
        wait_for("every succeeded run's report", lambda: succeeded <= set(ran), 60)
        assert len(ran) == len(set(ran)), "no remediation ran twice"
        print(
            f"topology: {n} alerts, {len(succeeded)} succeeded, "
            f"{sum(e.state == 'interrupted' for e in executions)} interrupted by the kills"
        )
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _lease_holder(database: Database) -> str:
    from app.detection.models import SchedulerLease

    with database.read() as session:
        row = session.get(SchedulerLease, "scheduler")
        assert row is not None
        return row.holder


@pytest.mark.parametrize("secret", [ADMIN, None], ids=["VIGIL_ADMIN_TOKEN", "generated"])
def test_instances_starting_together_end_with_one_bootstrap_token(pg_url, monkeypatch, secret) -> None:
    from app import migrate
    from app.auth import service as auth

    database = Database(pg_url)
    migrate.upgrade(database)
    real_create = auth.create

    def create_after_the_other_instance(session, **kw):
        # The other instance commits its bootstrap token between this one's checks and its insert.
        with database.write() as other:
            real_create(other, **kw)
        return real_create(session, **kw)

    monkeypatch.setattr(auth, "create", create_after_the_other_instance)
    with database.write() as session:
        assert auth.ensure_bootstrap(session, secret=secret) is None  # the winner prints its secret
    with database.read() as session:
        assert [(t.name, t.role) for t in auth.list_tokens(session)] == [("admin", "admin")]
    database.dispose()
