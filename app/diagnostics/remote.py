"""Diagnoses on Redis Queue (settings.automation.backend: rq): hand over, and reconcile.

The scheduler's diagnosis thread hands each due diagnosis whose signals any process can
fetch (a Prometheus or CSV source) to RQ as a job carrying only (diagnosis id, attempt);
a `vigil worker` serving DIAGNOSIS_QUEUE claims the row and runs it (app.worker.diagnose).
Scrape and host sources keep their history in the scheduler's memory, so their
diagnoses stay in its thread. A job that is lost (gone from Redis, failed, its worker's
heartbeats stopped, or not started within START_TIMEOUT_S) makes the row queued again
for a new attempt, and after MAX_ATTEMPTS failed with the reason.
"""

from __future__ import annotations

import logging
from datetime import datetime

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from app.diagnostics import service
from app.diagnostics.models import Diagnosis
from remediations.backends.rq import DEAD_JOB, worker_silence

log = logging.getLogger("vigil.diagnostics")

DIAGNOSIS_QUEUE = "default"  # what `vigil worker` serves unless told otherwise
JOB_TIMEOUT_S = 900  # RQ's backstop for one diagnosis (fetch and rank take seconds)
START_TIMEOUT_S = 600.0
"""A handed-over job that no worker started by then is handed over again (no worker serves
the queue, or they are all busy with long remediations)."""
MAX_ATTEMPTS = 2


def job_id(diagnosis_id: int, attempt: int) -> str:
    """The RQ job id of one attempt at a diagnosis (each hand-over is a new job)."""
    return f"vigil-diagnosis-{diagnosis_id}-{attempt}"


class RemoteDiagnoses:
    """Hands diagnoses to RQ workers and tells when a job will never finish its row."""

    def __init__(self, redis_url: str, *, queue: str = DIAGNOSIS_QUEUE) -> None:
        self.redis, self.queue = Redis.from_url(redis_url), queue

    def enqueue(self, diagnosis_id: int, attempt: int) -> None:
        """Raises redis' errors when Redis is away (the caller hands the row back)."""
        queue = Queue(self.queue, connection=self.redis, serializer=JSONSerializer)
        queue.enqueue(
            "app.worker.diagnose",
            diagnosis_id,
            attempt,
            job_id=job_id(diagnosis_id, attempt),
            job_timeout=JOB_TIMEOUT_S,
            result_ttl=3600,
            failure_ttl=86400,
        )

    def lost(self, row: Diagnosis, now: datetime) -> str | None:
        """Why the RQ job holding `row` will never finish it, or None while it still may."""
        try:
            job = Job.fetch(job_id(row.id, row.attempts), connection=self.redis, serializer=JSONSerializer)
        except NoSuchJobError:
            return "its RQ job is gone"
        status = job.get_status(refresh=True)
        if status in DEAD_JOB:
            return f"its RQ job ended {status}"
        if row.state == "queued":
            if status == JobStatus.FINISHED:
                return "its RQ job finished without starting it"
            waited = (now - row.dispatched_at).total_seconds() if row.dispatched_at else 0.0
            if waited > START_TIMEOUT_S:
                return f"no RQ worker started it within {START_TIMEOUT_S:g}s (queue {self.queue!r})"
            return None
        name = (row.claimed_by or "")[len(service.WORKER_PREFIX) :]
        return worker_silence(self.redis, name, now)
