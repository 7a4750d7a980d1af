"""Vigil served by a real Gunicorn with several workers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from app.alerts import service
from app.db import Database
from detectors.findings import Finding
from tests.helpers import free_port


@pytest.fixture
def served(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "VIGIL_DATA_DIR": str(tmp_path / "data"), "VIGIL_PORT": str(port)}
    env.pop("VIGIL_ADMIN_TOKEN", None)
    env.pop("DATABASE_URL", None)
    log = open(tmp_path / "serve.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--no-scheduler"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(f"{base}/api/v1/ready", timeout=5).ok:
                break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail((tmp_path / "serve.log").read_text())
    yield base, tmp_path / "serve.log", tmp_path / "data"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)
    log.close()


def metrics_dir(log: Path) -> Path:
    return Path(re.search(r"prometheus multiprocess files path=(\S+)", log.read_text()).group(1))


def test_prometheus_files_live_off_the_data_disk(served) -> None:
    _base, log, data = served
    path = metrics_dir(log)
    assert path.is_dir() and data not in path.parents
    assert path.parent == Path("/dev/shm") or not Path("/dev/shm").is_dir()


def test_serve_prints_the_docs_url_and_a_bootstrap_token_that_works(served) -> None:
    base, log, _data = served
    text = log.read_text()
    assert f"{base}/api/docs" in text
    token = re.search(r"bootstrap admin token.*: (vgl_\S+)", text).group(1)
    answer = requests.get(f"{base}/api/v1/tokens", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert answer.status_code == 200 and answer.json()[0]["role"] == "admin"
    # the secret is printed once at start-up, never logged per request
    assert text.count(token) == 1


def test_metrics_aggregate_requests_across_workers(served) -> None:
    base, log, _data = served
    files = metrics_dir(log)
    n = 0

    def hit(_: int) -> None:
        requests.get(f"{base}/api/v1/health", headers={"Connection": "close"}, timeout=5)

    # Concurrent batches until both workers have served (the kernel picks who accepts).
    with ThreadPoolExecutor(8) as pool:
        for _ in range(20):
            list(pool.map(hit, range(40)))
            n += 40
            if len(list(files.glob("counter_*.db"))) >= 2:
                break
    assert len(list(files.glob("counter_*.db"))) >= 2, "both workers served"
    for _ in range(3):  # whichever worker answers, the total is the same
        body = requests.get(f"{base}/metrics", timeout=5).text
        match = re.search(
            r'vigil_http_requests_total\{endpoint="/api/v1/health",method="GET",status="200"\} (\S+)', body
        )
        assert match and float(match.group(1)) == n


def test_an_ack_shows_at_once_in_every_workers_alert_list(served) -> None:
    # Each worker replays unchanged alert lists from memory; a commit anywhere must end that.
    base, log, data = served
    token = re.search(r"bootstrap admin token.*: (vgl_\S+)", log.read_text()).group(1)
    database = Database(f"sqlite:///{data}/vigil.db")
    with database.write() as session:
        service.apply(
            session,
            detector="disk",
            severity="warning",
            static_labels={},
            now=datetime.now(timezone.utc),
            findings=[Finding(kind="threshold", labels={}, state="firing", value=1.0)],
        )
    database.dispose()
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}

    def acked_by(_: int) -> str | None:
        answer = requests.get(f"{base}/api/v1/alerts", headers=headers, timeout=5)
        return answer.json()["items"][0]["acked_by"]

    with ThreadPoolExecutor(8) as pool:
        for _ in range(20):  # until both workers have answered (and so keep the list)
            assert set(pool.map(acked_by, range(40))) == {None}
            if len(list(metrics_dir(log).glob("counter_*.db"))) >= 2:
                break
        alert_id = requests.get(f"{base}/api/v1/alerts", headers=headers, timeout=5).json()["items"][0]["id"]
        assert requests.post(f"{base}/api/v1/alerts/{alert_id}/ack", json={}, headers=headers, timeout=5).ok
        after = set(pool.map(acked_by, range(80)))
    assert len(after) == 1 and None not in after
    hits = re.search(
        r'vigil_alert_list_cache_total\{result="hit"\} (\S+)', requests.get(f"{base}/metrics", timeout=5).text
    )
    assert hits and float(hits.group(1)) > 0
