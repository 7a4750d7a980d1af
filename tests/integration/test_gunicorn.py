"""Vigil served by a real Gunicorn with several workers."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.helpers import free_port


@pytest.fixture
def served(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "VIGIL_DATA_DIR": str(tmp_path / "data"), "VIGIL_PORT": str(port)}
    env.pop("VIGIL_ADMIN_TOKEN", None)
    env.pop("DATABASE_URL", None)
    log = open(tmp_path / "serve.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--no-scheduler"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
    base, _log, data = served
    n = 0

    def hit(_: int) -> None:
        requests.get(f"{base}/api/v1/health", headers={"Connection": "close"}, timeout=5)

    # Concurrent batches until both workers have served (the kernel picks who accepts).
    with ThreadPoolExecutor(8) as pool:
        for _ in range(20):
            list(pool.map(hit, range(40)))
            n += 40
            if len(list((data / "prometheus-multiproc").glob("counter_*.db"))) >= 2:
                break
    assert len(list((data / "prometheus-multiproc").glob("counter_*.db"))) >= 2, "both workers served"
    for _ in range(3):  # whichever worker answers, the total is the same
        body = requests.get(f"{base}/metrics", timeout=5).text
        match = re.search(r'vigil_http_requests_total\{endpoint="/api/v1/health",method="GET",status="200"\} (\S+)', body)
        assert match and float(match.group(1)) == n
