"""Remediation throughput through Redis Queue with 1 vs 2 `vigil worker` processes.

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (as on the dev machines).
Run: .venv/bin/python bench/bench_scaleout.py [executions]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import yaml
from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import migrate  # noqa: E402
from app.automation import registry, service  # noqa: E402
from app.automation.dispatch import Dispatcher  # noqa: E402
from app.automation.models import Execution  # noqa: E402
from app.automation.rq_queue import RQQueue  # noqa: E402
from app.db import Database  # noqa: E402
from config.loader import from_dict  # noqa: E402
from remediations import parse_manifest  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
SCRIPT = "#!/bin/sh\nsleep 0.02\necho done\n"  # a short remote call's worth of waiting


def measure(workers: int, n: int, tmp: Path) -> float:
    name = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        database = Database(url)
        migrate.upgrade(database)
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        raw = {
            "settings": {
                "data_dir": str(tmp / "data"),
                "database_url": url,
                "automation": {"backend": "rq", "redis_url": REDIS_URL},
            }
        }
        (tmp / "vigil.yaml").write_text(yaml.safe_dump(raw))
        config = from_dict(raw, {})
        now = datetime.now(timezone.utc)
        with database.write() as session:
            registry.register(
                session,
                manifest=parse_manifest({"name": "bench", "script": SCRIPT, "max_concurrency": 64}),
                by="bench",
                now=now,
            )
            for _ in range(n):
                service.run_manually(session, name="bench", params={}, alert_id=None, by="bench", now=now)
            session.execute(Execution.__table__.update().values(queue=queue))
        dispatcher = Dispatcher(
            database, None, config, holder="bench", scripts_dir=tmp / "scripts", environ={}, remote=RQQueue(REDIS_URL)
        )
        env = {**os.environ, "DATABASE_URL": url}
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "app", "worker", "--config", str(tmp / "vigil.yaml"), "--queues", queue],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        time.sleep(3)  # worker start-up is not what we measure
        started = time.perf_counter()
        done = 0
        while done < n and time.perf_counter() - started < 300:
            dispatcher.dispatch()  # as the scheduler does; the concurrency limit meters the flow
            time.sleep(0.01)
            with database.read() as session:
                done = (
                    session.scalar(select(func.count()).select_from(Execution).where(Execution.state == "succeeded"))
                    or 0
                )
        elapsed = time.perf_counter() - started
        for proc in procs:
            proc.terminate()
            proc.wait()
        if done != n:
            with database.read() as session:
                odd = session.execute(
                    select(Execution.id, Execution.state, Execution.reason, Execution.output).where(
                        Execution.state != "succeeded"
                    )
                ).all()
            raise SystemExit(f"only {done} of {n} succeeded: {odd}")
        database.dispose()
        return n / elapsed
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            rate = measure(workers, n, Path(tmp))
        print(f"rq workers={workers}: {n} executions, {rate:.1f} executions/s ")


if __name__ == "__main__":
    main()
