"""kill -9 the scheduler in the middle of a remediation: after restart it is interrupted, not stuck."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import yaml
from sqlalchemy import select

from app.automation import registry
from app.automation.models import Execution
from remediations import parse_manifest
from tests.integration.automation.conftest import T0


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for a reaper (pid 1 in a container may never reap)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_run_cut_by_a_crash_is_marked_interrupted_after_restart(tmp_path, database, database_url) -> None:
    with database.write() as session:
        registry.register(
            session, manifest=parse_manifest({"name": "slow", "script": "#!/bin/sh\nsleep 60\n"}), by="test", now=T0
        )
    config = {
        "settings": {
            "data_dir": str(tmp_path / "data"),
            "database_url": database_url,
            "scheduler": {"lease_ttl_s": 2, "renew_every_s": 0.5, "jitter_s": 0},
        },
        "sources": [{"name": "host", "type": "host"}],
        "detectors": [
            {
                "name": "always",
                "source": "host",
                "query": "memory_percent",
                "interval": "1s",
                "window": "30s",
                "analysis": {"type": "threshold", "above": -1},
            }
        ],
        "bindings": [{"name": "slow-on-always", "remediation": "slow", "detector": "always", "mode": "auto"}],
    }
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "app", "scheduler", "--config", str(path)]

    def running() -> list[Execution]:
        with database.read() as session:
            return list(
                session.scalars(select(Execution).where(Execution.state == "running", Execution.pid.is_not(None)))
            )

    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = None
    pid = None
    try:
        deadline = time.monotonic() + 120  # a bound for a loaded machine, not a timing
        while not running() and time.monotonic() < deadline:
            time.sleep(0.2)
        [execution] = running()
        pid = execution.pid
        first.kill()
        first.wait()
        second = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120  # a bound for a loaded machine, not a timing
        while time.monotonic() < deadline:
            with database.read() as session:
                row = session.get(Execution, execution.id)
            if row.state != "running":
                break
            time.sleep(0.2)
        assert row.state == "interrupted" and "interrupted" in row.reason
        assert row.finished_at is not None
        assert row.outcome_unknown and "it may have run to completion" in row.reason
        time.sleep(0.2)
        assert not alive(pid), "the orphaned script's session is ended too"
    finally:
        for proc in (first, second):
            if proc and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)
        if pid:  # the orphaned script's session outlived its scheduler; end it
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
