"""A revoked token is refused at once by every Gunicorn worker (no per-worker grace period)."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from prometheus_client.multiprocess import MultiProcessCollector

from tests.integration.test_gunicorn import metrics_dir, served  # noqa: F401 (a fixture)

LIST = "/api/v1/alerts"


def _answers_per_worker(files: Path, status: str) -> list[float]:
    """Per worker process: how many GET /api/v1/alerts it answered with `status`."""
    counts = []
    for path in sorted(files.glob("counter_*.db")):
        total = 0.0
        for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
            for sample in metric.samples:
                if (
                    sample.name == "vigil_http_requests_total"
                    and sample.labels.get("endpoint") == LIST
                    and sample.labels.get("status") == status
                ):
                    total += sample.value
        counts.append(total)
    return counts


def test_every_worker_refuses_a_revoked_token_immediately(served) -> None:  # noqa: F811
    base, log, data = served
    files = metrics_dir(log)
    admin = {"Authorization": "Bearer " + re.search(r"bootstrap admin token.*: (vgl_\S+)", log.read_text()).group(1)}
    created = requests.post(
        f"{base}/api/v1/tokens", json={"name": "leaky", "role": "viewer"}, headers=admin, timeout=10
    )
    assert created.status_code == 201
    viewer = {"Authorization": f"Bearer {created.json()['token']}", "Connection": "close"}

    def status(_: int) -> int:
        return requests.get(f"{base}{LIST}", headers=viewer, timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        for _ in range(30):  # new connections until both workers have let the token in
            assert set(pool.map(status, range(40))) == {200}
            if sum(1 for n in _answers_per_worker(files, "200") if n) >= 2:
                break
        assert sum(1 for n in _answers_per_worker(files, "200") if n) >= 2, "both workers served the token"
        revoked = requests.delete(f"{base}/api/v1/tokens/{created.json()['id']}", headers=admin, timeout=10)
        assert revoked.status_code == 200
        seen: set[int] = set()
        for _ in range(30):  # the very next requests, until both workers have answered one
            seen |= set(pool.map(status, range(40)))
            if sum(1 for n in _answers_per_worker(files, "401") if n) >= 2:
                break
    assert 200 not in seen and seen <= {401, 429}  # 429: a revoked token is a failure, braked after 20
    assert sum(1 for n in _answers_per_worker(files, "401") if n) >= 2, "both workers refused it"
    # The bootstrap (in the master), the creation and the revocation (in workers) chained and anchored.
    assert requests.get(f"{base}/api/v1/audit/verify", headers=admin, timeout=10).json() == {
        "ok": True,
        "checked": 3,
        "first_broken_id": None,
        "reason": None,
    }
    assert json.loads((data / "audit-anchor.json").read_text())["count"] == 3
