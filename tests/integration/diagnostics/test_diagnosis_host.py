"""Diagnosis of a host source without queries: every host metric the scheduler's sampler
keeps (real psutil readings), run in the scheduler's thread even with backend rq."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from app.detection import job, lease
from app.diagnostics.models import Diagnosis
from app.scheduler import Scheduler
from detectors.sources.host import QUERIES
from tests.conftest import make_config

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def test_it_diagnoses_over_every_host_metric_in_the_schedulers_thread(
    tmp_path: Any, database_url: str, database: Any
) -> None:
    analysis = {"type": "threshold", "above": -1.0}
    config = make_config(
        tmp_path,
        database_url,
        settings={"automation": {"backend": "rq", "redis_url": "redis://127.0.0.1:6379/0"}},
        sources=[{"name": "host", "type": "host"}],
        detectors=[
            {
                "name": "warm",
                "source": "host",
                "query": "cpu_percent",
                "interval": "1s",
                "window": "1m",
                "analysis": {"type": "threshold", "above": 1e9},
            },
            {
                "name": "memory",
                "source": "host",
                "query": "memory_percent",
                "interval": "1s",
                "window": "1m",
                "analysis": analysis,
                "diagnose": {"lookback": "1m", "after": "0s"},
            },
        ],
    )
    clock = {"now": T0}
    scheduler = Scheduler(config, database, holder="scheduler", clock=lambda: clock["now"])
    try:
        # A quiet detector samples the host for two minutes; then memory fires, its threshold
        # crossed since the first point of its 1-minute window (the alert's start).
        for k in range(131):
            clock["now"] = T0 + timedelta(seconds=k)
            with database.write() as session:
                assert lease.acquire(session, holder="scheduler", now=clock["now"], ttl_s=3600)
            detector = config.detectors[1 if k == 130 else 0]
            run = job.run(
                database, config, detector, scheduler.sources["host"], holder="scheduler", now=clock["now"], slot=None
            )
            assert run is not None and run.error is None
        assert scheduler.diagnosis.remote is not None and scheduler.diagnosis.run_pending() == 1
    finally:
        scheduler.shutdown()
    with database.read() as session:
        row = session.scalars(select(Diagnosis)).one()
        assert row.state == "done", row.error
        assert row.signals == len(QUERIES) and row.claimed_by == "scheduler"
        assert row.analysed == len(QUERIES) - 1  # the alert's own memory_percent is the symptom, not a suspect
