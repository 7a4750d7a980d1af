"""Reports page, reports API and CSV export latency over 1,000,000 alerts in SQLite.

Run: .venv/bin/python bench/bench_reports.py [--alerts 1000000] [--requests 10] [--keep DIR]

Seeds like bench_dashboard.py (alerts over a year, 20 detectors; --keep reuses its
database), then times in process with Flask's test client: the reports page and
GET /api/v1/reports for each period, and CSV downloads read to the end.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dashboard import p95, seed  # noqa: E402

from app import create_app  # noqa: E402
from app.reports import service as reports  # noqa: E402
from config.loader import from_dict  # noqa: E402

CASES = [
    *((f"page: /reports?range={r}", f"/reports?range={r}", False) for r in ("24h", "7d", "30d", "90d")),
    *((f"api: /api/v1/reports?range={r}", f"/api/v1/reports?range={r}", True) for r in ("24h", "7d", "30d", "90d")),
    ("csv: detectors table, 90d", "/reports/detectors.csv?range=90d", False),
    ("csv: alerts det-7 in the last 7 days", "/alerts.csv?detector=det-7&range=7d", False),
    ("csv: alerts, first 100,000 rows (the cap)", "/alerts.csv", False),
]


def measure(client: Any, url: str, headers: dict[str, str], requests: int) -> tuple[float, list[float], int]:
    """(first request ms, later requests ms, bytes): 30d and 90d reports are then reused for 60 s."""
    began = time.perf_counter()
    answer = client.get(url, headers=headers)
    assert answer.status_code == 200, (url, answer.status_code)
    size = len(answer.get_data())
    first = (time.perf_counter() - began) * 1000
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        answer = client.get(url, headers=headers)
        answer.get_data()  # a streamed CSV is only done once read
        times.append((time.perf_counter() - began) * 1000)
    return first, times, size


def run(directory: Path, n: int, requests: int) -> int:
    db_path = directory / "vigil.db"
    if not db_path.exists():
        seed(db_path, n)
    config = from_dict({"settings": {"data_dir": str(directory / "data"), "database_url": f"sqlite:///{db_path}"}}, {})
    app = create_app(config)
    client = app.test_client()
    secret = (directory / "token").read_text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
    assert client.post("/login", data={"token": secret, "csrf_token": csrf}).status_code == 302
    bearer = {"Authorization": f"Bearer {secret}"}
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'case':46} {'first ms':>9} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>11}")
    for name, url, is_api in CASES:
        reports._cache.clear()  # each case's first request computes its report
        first, times, size = measure(client, url, bearer if is_api else {}, requests)
        print(
            f"{name:46} {first:9.1f} {statistics.median(times):8.1f} "
            f"{p95(times) if len(times) > 1 else times[0]:8.1f} {size:11,}",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    app.extensions["vigil.db"].dispose()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--keep", help="directory to keep (and reuse) the seeded database in")
    args = parser.parse_args()
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        return run(Path(args.keep), args.alerts, args.requests)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        return run(Path(tmp), args.alerts, args.requests)


if __name__ == "__main__":
    sys.exit(main())
