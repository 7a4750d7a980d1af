"""Binding rehearsal over 100,000 stored alerts in 30 days (SQLite, or --database-url).

Run: .venv/bin/python bench/bench_rehearsal.py [--alerts 100000] [--repeat 5] [--database-url URL]

Seeds the alerts table (one Core executemany), registers the remediation, then times
POST /api/v1/bindings/rehearse in process with Flask's test client (server time, no
network) for a binding that matches every alert (worst case: every alert is decided).
Prints the median and the worst of --repeat runs and the load average before and after (the
machine is shared: a figure taken at a load above 3 says so); the target is a worst <= 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from app import create_app, migrate  # noqa: E402
from app.alerts.models import Alert  # noqa: E402
from app.auth import service as auth  # noqa: E402
from app.automation import registry  # noqa: E402
from app.db import Database  # noqa: E402
from config.loader import from_dict  # noqa: E402
from remediations import parse_manifest  # noqa: E402

NOW = datetime.now(timezone.utc).replace(microsecond=0)
TARGET_S = 2.0
# The 30 days the seeded alerts span, however long seeding took.
PERIOD = {"since": (NOW - timedelta(days=30)).isoformat(), "until": (NOW + timedelta(seconds=1)).isoformat()}
BINDING = {
    "name": "restart-web",
    "remediation": "fix",
    "detector": "cpu",
    "mode": "auto",
    "cooldown": "30m",
    "rate_limit": 20,
    "rate_window": "1h",
    "matchers": {"env": "~prod|staging"},
}


def rows(n: int) -> Iterator[dict[str, Any]]:
    """Alerts over the last 30 days, oldest first, on 500 instances."""
    span_s = 30 * 86400 - 60
    for i in range(n):
        at = NOW - timedelta(seconds=span_s * (n - i) / n)
        labels = {"instance": f"web-{i % 500}", "env": "prod" if i % 3 else "staging"}
        yield {
            "fingerprint": f"fp-{i % 500}",
            "detector": "cpu",
            "source": "detector",
            "labels": labels,
            "severity": "critical",
            "state": "resolved",
            "kind": "threshold",
            "message": "cpu high",
            "value": 97.0,
            "threshold": 90.0,
            "evidence": {},
            "started_at": at,
            "fired_at": at,
            "resolved_at": at + timedelta(minutes=5),
            "last_seen_at": at,
        }


def seed(database: Database, n: int) -> None:
    batch: list[dict[str, Any]] = []
    with database.write_connection() as conn:
        for row in rows(n):
            batch.append(row)
            if len(batch) == 10_000:
                conn.execute(insert(Alert), batch)
                batch = []
        if batch:
            conn.execute(insert(Alert), batch)
    with database.write() as session:
        registry.register(
            session,
            manifest=parse_manifest({"name": "fix", "script": "#!/bin/sh\ntrue\n"}),
            by="bench",
            now=NOW - timedelta(days=40),
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/vigil.db"
        database = Database(url)
        migrate.upgrade(database)
        started = time.perf_counter()
        seed(database, args.alerts)
        print(f"seeded {args.alerts} alerts in {time.perf_counter() - started:.1f} s")
        with database.write() as session:
            _row, secret = auth.create(session, name="bench", role="operator", by="bench")
        config = from_dict({"settings": {"data_dir": tmp, "database_url": url}}, {})
        client = create_app(config).test_client()
        timings, cpu = [], []
        load_before = os.getloadavg()[0]
        for _ in range(args.repeat):
            started, cpu_started = time.perf_counter(), time.process_time()
            r = client.post(
                "/api/v1/bindings/rehearse", json={**BINDING, **PERIOD}, headers={"Authorization": f"Bearer {secret}"}
            )
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            assert r.status_code == 200, r.get_json()
        summary = r.get_json()["summary"]
        print(f"decisions={summary['decisions']} runs={summary['runs']} skipped={summary['skipped']}")
        print(
            f"rehearsal of {args.alerts} alerts: median {statistics.median(timings):.2f} s, "
            f"worst {max(timings):.2f} s, CPU median {statistics.median(cpu):.2f} s "
            f"(target: worst <= {TARGET_S:.0f} s); load average {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after"
        )
        database.dispose()
        return 0 if max(timings) <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
