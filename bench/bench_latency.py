"""Latency Vigil adds between a stored finding and the remediation script's start.

Measures the real path: alerts.apply + reactions (automation decision, execution row) in one
transaction, commit, dispatcher claim, inline backend, runner, script start (on_start).
Run: .venv/bin/python bench/bench_latency.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import migrate  # noqa: E402
from app.alerts import service as alerts  # noqa: E402
from app.automation import bindings, registry, results  # noqa: E402
from app.automation.dispatch import Dispatcher  # noqa: E402
from app.db import Database  # noqa: E402
from app.reactions import react  # noqa: E402
from config.loader import from_dict  # noqa: E402
from config.schema import BindingConfig  # noqa: E402
from detectors.findings import Finding  # noqa: E402
from remediations import parse_manifest  # noqa: E402
from remediations.backends.inline import InlineBackend  # noqa: E402

started_at: dict[int, float] = {}
lock = threading.Lock()


def setup(tmp: Path) -> tuple[Database, Dispatcher, InlineBackend]:
    database = Database(f"sqlite:///{tmp}/bench.db")
    migrate.upgrade(database)
    config = from_dict({"settings": {"data_dir": str(tmp)}}, {})
    now = datetime.now(timezone.utc)
    with database.write() as session:
        registry.register(
            session,
            manifest=parse_manifest({"name": "fix", "script": "#!/bin/sh\ntrue\n", "max_concurrency": 64}),
            by="bench",
            now=now,
        )
        bindings.create(
            session,
            spec=BindingConfig(name="b", remediation="fix", mode="auto", cooldown=0, rate_limit=10_000),
            by="bench",
            now=now,
        )
    backend = InlineBackend(32)
    dispatcher = Dispatcher(database, backend, config, holder="bench", scripts_dir=tmp / "scripts", environ={})
    original = results.record_start

    def record_start(database: Database, config: object, execution_id: int, pid: int) -> None:
        with lock:
            started_at[execution_id] = time.perf_counter()
        original(database, config, execution_id, pid)  # type: ignore[arg-type]

    results.record_start = record_start  # type: ignore[assignment]
    return database, dispatcher, backend


def fire(database: Database, dispatcher: Dispatcher, config: object, labels: list[str], n: int) -> list[float]:
    now = datetime.now(timezone.utc)
    with database.write() as session:
        findings = [Finding(kind="threshold", labels={"i": f"{n}-{i}"}, state="firing") for i in labels]
        transitions = alerts.apply(
            session, detector="bench", severity="critical", static_labels={}, findings=findings, now=now
        )
        react(session, transitions, now=now, config=config)  # type: ignore[arg-type]
        ids = [e.id for e in session.query(results.Execution).filter_by(state="queued")]
    stored = time.perf_counter()  # the commit has happened: the finding is stored
    dispatcher.dispatch()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with lock:
            if all(i in started_at for i in ids):
                break
        time.sleep(0.0005)
    with lock:
        return [(started_at[i] - stored) * 1000 for i in ids]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database, dispatcher, backend = setup(Path(tmp))
        config = from_dict({"settings": {"data_dir": tmp}}, {})
        single = []
        for n in range(200):
            single += fire(database, dispatcher, config, ["a"], n)
        burst = []
        for n in range(20):
            burst += fire(database, dispatcher, config, [str(i) for i in range(32)], 1000 + n)
        backend.shutdown()
    print(
        f"finding stored -> script started, one alert:   p50 {pct(single, 50):.1f} ms  p99 {pct(single, 99):.1f} ms "
        f"(targets 10 / 50 ms, {len(single)} runs)"
    )
    print(
        f"finding stored -> script started, 32 at once:   p50 {pct(burst, 50):.1f} ms  p99 {pct(burst, 99):.1f} ms "
        f"(target p99 150 ms, {len(burst)} runs)"
    )


if __name__ == "__main__":
    main()
