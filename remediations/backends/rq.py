"""Redis Queue as the way to hand runs to `vigil worker` processes: job ids, enqueueing, and
what RQ's own records say about a job or a worker that went away.

Plain values only (execution ids, states, worker names): app.automation.rq_queue owns the
executions table and reconciles it with what this module reports.
"""

from __future__ import annotations

from datetime import datetime, timezone

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

WORKER_PREFIX = "rq-worker:"  # how an execution's `runner` names the RQ worker that claimed it
HEARTBEAT_S = 5  # workers report this often while running a job (rq's job_monitoring_interval)
DEAD_AFTER_S = 4 * HEARTBEAT_S
DEAD_JOB = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


def job_id(execution_id: int) -> str:
    """The RQ job id of an execution: one job per execution, so a second enqueue is refused."""
    return f"vigil-execution-{execution_id}"


def enqueue(redis: Redis, *, queue: str, function: str, execution_id: int, timeout_s: float) -> None:
    """Queue `function(execution_id)` on `queue`; RQ's timeout is a backstop behind the runner's own."""
    Queue(queue, connection=redis, serializer=JSONSerializer).enqueue(
        function,
        execution_id,
        job_id=job_id(execution_id),
        job_timeout=int(timeout_s) + 10,
        result_ttl=3600,
        failure_ttl=86400,
    )


def lost(redis: Redis, *, execution_id: int, state: str, runner: str | None, now: datetime) -> str | None:
    """Why a dispatched or running execution's job can no longer finish it, else None."""
    try:
        job = Job.fetch(job_id(execution_id), connection=redis, serializer=JSONSerializer)
    except NoSuchJobError:
        return "its RQ job is gone"
    status = job.get_status(refresh=True)
    if status in DEAD_JOB:
        return f"its RQ job ended {status}"
    if status == JobStatus.FINISHED and state == "dispatched":
        return "its RQ job finished without claiming it"
    if state == "running" and runner and runner.startswith(WORKER_PREFIX):
        return worker_silence(redis, runner[len(WORKER_PREFIX) :], now)
    return None


def worker_silence(redis: Redis, name: str, now: datetime) -> str | None:
    """ "RQ worker <name> stopped sending heartbeats" when it has, else None (diagnoses use it too)."""
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=redis)
    beat = worker.last_heartbeat if worker else None
    if beat is None or (now - _utc(beat)).total_seconds() > DEAD_AFTER_S:
        return f"RQ worker {name} stopped sending heartbeats"
    return None


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at
