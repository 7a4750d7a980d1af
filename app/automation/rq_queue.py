"""The `rq` execution backend: executions go to Redis Queue, `vigil worker`s run them.

At most once per execution: the job only carries the execution id, and a worker claims
the row (dispatched -> running) with a conditional UPDATE before running anything, so a
job delivered twice runs once. Jobs whose worker or work-horse died are reconciled to
`interrupted` from RQ's own records (remediations.backends.rq reads them).
"""

from __future__ import annotations

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.automation import results
from app.automation.models import Execution, RemediationVersion
from app.db import utcnow
from remediations.backends import rq


class RQQueue:
    """Hands dispatched executions to RQ and interrupts those whose job or worker is gone."""

    def __init__(self, redis_url: str) -> None:
        self.redis = Redis.from_url(redis_url)

    def enqueue(self, execution: Execution, version: RemediationVersion) -> None:
        """One RQ job for the execution on its queue; `vigil worker` runs app.worker.execute."""
        rq.enqueue(
            self.redis,
            queue=execution.queue or "default",
            function="app.worker.execute",
            execution_id=execution.id,
            timeout_s=version.timeout_s,
        )

    def reconcile(self, session: Session) -> int:
        """Interrupt RQ executions whose job or worker is gone; returns how many."""
        rows = session.scalars(
            select(Execution).where(Execution.state.in_(("dispatched", "running")), Execution.runner.like("rq%"))
        ).all()
        count = 0
        for row in rows:
            reason = rq.lost(self.redis, execution_id=row.id, state=row.state, runner=row.runner, now=utcnow())
            if reason:
                results.interrupt(session, row, f"interrupted: {reason}")
                count += 1
        return count
