"""The rq backend against the real Redis on 127.0.0.1:6379 and real `vigil worker` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import select

from app.automation.dispatch import Dispatcher
from app.automation.models import Execution
from app.automation.rq_queue import RQQueue
from tests.integration.automation.conftest import Automation

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def rq_setup(database, database_url, tmp_path: Path):
    try:
        Redis.from_url(REDIS_URL).ping()
    except Exception as exc:  # scripts/services.sh starts Redis before the suite
        pytest.fail(f"Redis is not reachable on 127.0.0.1:6379: {exc}")
    queue = f"vigil-test-{uuid.uuid4().hex[:8]}"
    config = {
        "settings": {
            "data_dir": str(tmp_path / "data"),
            "database_url": database_url,
            "automation": {"backend": "rq", "redis_url": REDIS_URL},
        }
    }
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(config))
    auto = Automation(database, tmp_path)
    auto.dispatcher = Dispatcher(
        database,
        None,
        auto.config,
        holder="test",
        scripts_dir=tmp_path / "scripts",
        environ={},
        remote=RQQueue(REDIS_URL),
    )
    yield auto, queue, path
    Queue(queue, connection=Redis.from_url(REDIS_URL), serializer=JSONSerializer).delete(delete_jobs=True)


def worker(path: Path, queue: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.Popen(
        [sys.executable, "-m", "app", "worker", "--config", str(path), "--queues", queue, *extra],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_an_rq_worker_runs_the_execution_and_writes_back(rq_setup, tmp_path: Path) -> None:
    auto, queue, path = rq_setup
    auto.register(script="#!/bin/sh\necho hello from the worker\n")
    auto.bind(queue=queue)
    auto.fire()  # dispatches: the execution is enqueued, not run here
    [execution] = auto.executions()
    assert execution.state == "dispatched"
    # The same job delivered twice still runs once: the worker claims the row first.
    Queue(queue, connection=Redis.from_url(REDIS_URL), serializer=JSONSerializer).enqueue(
        "app.worker.execute", execution.id, job_id=f"dup-{execution.id}"
    )
    worker(path, queue, "--burst").wait(timeout=60)
    [done] = auto.executions()
    assert done.state == "succeeded" and "hello from the worker" in done.output
    assert done.runner.startswith("rq-worker:")
    duplicate = Job.fetch(f"dup-{execution.id}", connection=Redis.from_url(REDIS_URL), serializer=JSONSerializer)
    assert duplicate.return_value() == "skipped: already claimed or no longer dispatched"


def test_a_worker_killed_mid_job_leaves_the_execution_interrupted(rq_setup) -> None:
    auto, queue, path = rq_setup
    auto.register(script="#!/bin/sh\nsleep 60\n", timeout_s=120)
    auto.bind(queue=queue)
    auto.fire()
    proc = worker(path, queue)

    def current() -> Execution:
        with auto.database.read() as session:
            return session.scalars(select(Execution)).one()

    deadline = time.monotonic() + 120
    while current().pid is None and time.monotonic() < deadline:
        time.sleep(0.2)
    script_pid = current().pid
    assert current().state == "running" and script_pid
    from remediations.backends.rq import DEAD_AFTER_S

    deadline = time.monotonic() + DEAD_AFTER_S + 3  # a live worker keeps beating through a long job
    while time.monotonic() < deadline:
        auto.dispatcher.reconcile()
        time.sleep(1)
    assert current().state == "running", "a long job on a live worker is not mistaken for a dead one"
    os.killpg(proc.pid, signal.SIGKILL)  # the worker and its work-horse die at once
    proc.wait()
    try:
        deadline = time.monotonic() + 120  # worker heartbeats expire after worker_ttl (15 s)
        while time.monotonic() < deadline and current().state == "running":
            auto.dispatcher.reconcile()
            time.sleep(1)
        row = current()
        assert row.state == "interrupted" and "heartbeats" in row.reason
        # The script was started and may have gone on to its end: the row says so.
        assert row.outcome_unknown and row.started_at is not None and row.exit_code is None
        assert "its result never came back: it may have run to completion" in row.reason
    finally:
        try:
            os.killpg(script_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
