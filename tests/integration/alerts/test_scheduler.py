"""Real scheduler processes sharing one database and a lease."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from sqlalchemy import func, select

from app.alerts.models import Alert
from app.detection.models import DetectorSlot, DetectorStatus, SchedulerLease
from tests.helpers import free_port


def write_config(tmp_path: Path, database_url: str) -> Path:
    config = {
        "settings": {
            "data_dir": str(tmp_path / "data"),
            "database_url": database_url,
            "scheduler": {"lease_ttl_s": 3, "renew_every_s": 0.5, "jitter_s": 0},
        },
        "sources": [
            {"name": "host", "type": "host"},
            {"name": "down", "type": "prometheus", "url": f"http://127.0.0.1:{free_port()}", "timeout_s": 1},
        ],
        "detectors": [
            {
                "name": "always",
                "source": "host",
                "query": "memory_percent",
                "interval": "1s",
                "window": "30s",
                "analysis": {"type": "threshold", "above": -1},
            },
            {
                "name": "broken",
                "source": "down",
                "query": "up",
                "interval": "1s",
                "window": "30s",
                "analysis": {"type": "threshold", "above": 1},
            },
        ],
    }
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start(path: Path, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    log = open(tmp_path / f"{name}.log", "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "app", "scheduler", "--config", str(path)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "DATABASE_URL": ""},
    )


def wait_for(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_one_scheduler_runs_jobs_and_another_takes_over_after_kill_9(tmp_path, database, database_url) -> None:
    path = write_config(tmp_path, database_url)
    a = start(path, tmp_path, "a")
    time.sleep(1.0)
    b = start(path, tmp_path, "b")
    procs = {a.pid: a, b.pid: b}
    try:

        def holder() -> str | None:
            with database.read() as session:
                row = session.get(SchedulerLease, "scheduler")
                return row.holder if row else None

        def runs_by(pid: int) -> int:
            with database.read() as session:
                return session.scalar(
                    select(func.count())
                    .select_from(DetectorSlot)
                    .where(DetectorSlot.detector == "always", DetectorSlot.holder.contains(f":{pid}:"))
                )

        assert wait_for(lambda: holder() is not None and any(runs_by(p) >= 3 for p in procs), 60)
        first = next(p for p in procs if f":{p}:" in holder())
        other = next(p for p in procs if p != first)
        assert runs_by(other) == 0, "only the lease holder runs jobs"
        os.kill(first, signal.SIGKILL)
        procs[first].wait()
        killed_at = time.monotonic()
        assert wait_for(lambda: runs_by(other) >= 2, 3 + 1 + 5), "the survivor takes over within TTL + interval"
        takeover_s = time.monotonic() - killed_at
        assert takeover_s < 3 + 1 + 5
        with database.read() as session:
            slots = session.scalars(select(DetectorSlot.slot).where(DetectorSlot.detector == "always")).all()
            status = {s.name: s for s in session.scalars(select(DetectorStatus))}
            alerts = session.scalars(select(Alert).where(Alert.detector == "always")).all()
        assert len(slots) == len(set(slots)), "no slot ran twice"
        assert status["always"].runs_total >= len(slots) - 1  # the killed run may not have recorded status
        assert status["broken"].last_error and "prometheus" in status["broken"].last_error
        assert status["broken"].errors_total >= 2, "a failing detector keeps being retried"
        assert len(alerts) == 1 and alerts[0].state == "firing", "one alert across both schedulers"
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=15)


def test_a_run_request_from_the_api_is_served_by_the_scheduler(tmp_path, database, database_url) -> None:
    from app.db import utcnow
    from app.detection import job

    path = tmp_path / "vigil.yaml"
    config = yaml.safe_load(write_config(tmp_path, database_url).read_text())
    config["detectors"][0]["interval"] = "1h"
    config["detectors"][0]["window"] = "2h"
    config["detectors"] = config["detectors"][:1]
    path.write_text(yaml.safe_dump(config))
    proc = start(path, tmp_path, "s")
    try:
        time.sleep(1.5)
        with database.write() as session:
            job.request_run(session, "always", utcnow())

        def ran() -> bool:
            with database.read() as session:
                s = session.get(DetectorStatus, "always")
                return bool(s and s.runs_total and s.run_requested_at is None)

        assert wait_for(ran, 30)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
