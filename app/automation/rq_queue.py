"""The `rq` execution backend: executions go to Redis Queue, `vigil worker`s run them.

At most once per execution: the job only carries the execution id, and a worker claims
the row (dispatched -> running) with a conditional UPDATE before running anything, so a
job delivered twice runs once. Jobs whose worker or work-horse died are reconciled to
`interrupted` from RQ's own records (job status, worker heartbeats).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.automation import results
from app.automation.models import Execution, RemediationVersion
from app.db import utcnow

log = logging.getLogger("vigil.rq")
WORKER_PREFIX = "rq-worker:"
HEARTBEAT_S = 5  # workers report this often while running a job (rq's job_monitoring_interval)
DEAD_AFTER_S = 4 * HEARTBEAT_S
DEAD_JOB = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


def job_id(execution_id: int) -> str:
    return f"vigil-execution-{execution_id}"


class RQQueue:
    def __init__(self, redis_url: str) -> None:
        self.redis = Redis.from_url(redis_url)

    def enqueue(self, execution: Execution, version: RemediationVersion) -> None:
        queue = Queue(execution.queue or "default", connection=self.redis, serializer=JSONSerializer)
        # RQ's timeout is a backstop: the runner's own timeout kills the script first.
        queue.enqueue("app.worker.execute", execution.id, job_id=job_id(execution.id),
                      job_timeout=int(version.timeout_s) + 10, result_ttl=3600, failure_ttl=86400)

    def reconcile(self, session: Session) -> int:
        rows = session.scalars(select(Execution).where(Execution.state.in_(("dispatched", "running")),
                                                       Execution.runner.like("rq%"))).all()
        count = 0
        for row in rows:
            reason = self._dead(row)
            if reason:
                results.interrupt(session, row, f"interrupted: {reason}")
                count += 1
        return count

    def _dead(self, execution: Execution) -> str | None:
        try:
            job = Job.fetch(job_id(execution.id), connection=self.redis, serializer=JSONSerializer)
        except NoSuchJobError:
            return "its RQ job is gone"
        status = job.get_status(refresh=True)
        if status in DEAD_JOB:
            return f"its RQ job ended {status}"
        if status == JobStatus.FINISHED and execution.state == "dispatched":
            return "its RQ job finished without claiming it"
        if execution.state == "running" and execution.runner and execution.runner.startswith(WORKER_PREFIX):
            return worker_silence(self.redis, execution.runner[len(WORKER_PREFIX):], utcnow())
        return None


def worker_silence(redis: Redis, name: str, now: datetime) -> str | None:
    """"RQ worker <name> stopped sending heartbeats" when it has, else None (diagnoses use it too)."""
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=redis)
    beat = worker.last_heartbeat if worker else None
    if beat is None or (now - _utc(beat)).total_seconds() > DEAD_AFTER_S:
        return f"RQ worker {name} stopped sending heartbeats"
    return None


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at
