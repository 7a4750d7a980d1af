"""PostgreSQL stopped for a few seconds under a running Vigil: requests fail with 503 (never a
500, never a half-written change), readiness says so, and everything recovers by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from app.db import normalise_url
from tests.helpers import free_port

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN = "outage-admin-token-0123456789"
pytestmark = pytest.mark.slow


def pg(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            version,
            "main",
            action,
            *(["-m", "fast"] if action == "stop" else []),
        ],
        check=True,
        capture_output=True,
    )


def test_requests_get_503_while_postgres_is_down_and_recover(tmp_path: Path) -> None:
    admin = create_engine(normalise_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    name = f"vigil_outage_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + name,
        "VIGIL_PORT": str(port),
        "VIGIL_DATA_DIR": str(tmp_path),
        "VIGIL_ADMIN_TOKEN": ADMIN,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "web"],
        env=env,
        start_new_session=True,
        stdout=open(tmp_path / "web.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {ADMIN}"}
    try:
        for _ in range(120):
            try:
                if requests.get(f"{base}/api/v1/ready", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.25)
        assert requests.get(f"{base}/api/v1/alerts", headers=auth, timeout=5).status_code == 200
        pg("stop")
        try:
            down = requests.get(f"{base}/api/v1/alerts", headers=auth, timeout=10)
            write = requests.post(
                f"{base}/api/v1/tokens", headers=auth, json={"name": "x", "role": "viewer"}, timeout=10
            )
            ready = requests.get(f"{base}/api/v1/ready", timeout=10)
        finally:
            pg("start")
        # The bearer check itself needs the database, so both fail cleanly, with the API's shape.
        assert down.status_code == 503 and "database unavailable" in down.json()["message"]
        assert down.headers["Retry-After"]
        assert write.status_code == 503
        assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
        recovered = None
        for _ in range(60):
            try:
                recovered = requests.get(f"{base}/api/v1/alerts", headers=auth, timeout=5)
                if recovered.status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        assert recovered is not None and recovered.status_code == 200
        tokens = requests.get(f"{base}/api/v1/tokens", headers=auth, timeout=5).json()
        assert "x" not in [t["name"] for t in tokens], "the refused write left nothing behind"
        assert "Traceback" not in (tmp_path / "web.log").read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        subprocess.run(["pg_isready", "-h", "127.0.0.1", "-t", "30"], capture_output=True)
        admin = create_engine(normalise_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
