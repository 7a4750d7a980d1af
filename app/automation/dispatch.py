"""Hand queued executions to an execution backend (scheduler process).

`inline`: a bounded thread pool here runs them. `rq`: they are enqueued to Redis Queue and
`vigil worker` processes (anywhere) run them and write results to the database.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.automation import admission, approvals, executions, results
from app.automation.models import Execution, RemediationVersion
from app.automation.service import state as automation_state
from app.db import Database, utcnow
from config.schema import Config
from remediations import RunnerError, RunRequest
from remediations.backends.base import Backend
from remediations.lifecycle import ExecutionState

log = logging.getLogger("vigil.dispatch")


class RemoteQueue(Protocol):
    """Where executions go when workers elsewhere run them (backend rq): enqueue one, and interrupt
    those whose job or worker was lost."""

    def enqueue(self, execution: Execution, version: RemediationVersion) -> None: ...

    def reconcile(self, session: Session) -> int: ...


class Dispatcher:
    """Claims queued executions (respecting each remediation's concurrency) and starts them."""

    def __init__(
        self,
        database: Database,
        backend: Backend | None,
        config: Config,
        *,
        holder: str,
        scripts_dir: Path,
        environ: Mapping[str, str],
        remote: RemoteQueue | None = None,
    ) -> None:
        self.database, self.backend, self.config, self.holder = database, backend, config, holder
        self.settings = config.settings.automation
        self.scripts_dir, self.environ, self.remote = scripts_dir, environ, remote
        self._lock = threading.Lock()  # one dispatch pass at a time in this process

    def recover(self) -> int:
        """Inline executions left running by a crashed scheduler become interrupted, never stuck."""
        with self.database.write() as session:
            rows = session.scalars(
                select(Execution).where(
                    Execution.state == ExecutionState.RUNNING,
                    Execution.runner.is_distinct_from(self.holder),
                    Execution.runner.not_like("rq%"),
                )
            ).all()
            for row in rows:
                _end_orphan(row)
                results.interrupt(session, row, f"interrupted: runner {row.runner} stopped before the script finished")
            return len(rows)

    def reconcile(self) -> int:
        """RQ: executions whose worker or job died become interrupted."""
        if self.remote is None:
            return 0
        with self.database.write() as session:
            return self.remote.reconcile(session)

    def dispatch(self, now: datetime | None = None) -> int:
        """End approvals that timed out, then start every queued execution that may start now;
        returns how many started. Called on every scheduler tick, so expiry needs no request."""
        now = now or utcnow()
        with self._lock:
            with self.database.write() as session:
                approvals.expire(session, now=now, config=self.config)
                claimed = self._claim(session, now)
                requests = [] if self.remote else self._prepare(session, claimed)
            # Only after the claim has committed: a worker must find the row `dispatched`.
            if self.remote is not None:
                for execution, version in claimed:
                    self._enqueue(execution, version)
            for request in requests:
                self._submit(request)
            return len(claimed)

    def _prepare(self, session: Session, claimed: list[tuple[Execution, RemediationVersion]]) -> list[RunRequest]:
        requests = []
        for execution, version in claimed:
            try:
                requests.append(
                    results.build_request(
                        session,
                        execution,
                        version,
                        settings=self.settings,
                        environ=self.environ,
                        scripts_dir=self.scripts_dir,
                    )
                )
            except OSError as exc:  # e.g. a full disk: fail this run clearly instead of retrying forever
                results.fail(
                    session, execution, f"error: cannot write the script to {self.scripts_dir}: {exc.strerror or exc}"
                )
        return requests

    def _enqueue(self, execution: Execution, version: RemediationVersion) -> None:
        assert self.remote is not None  # only called in rq mode
        try:
            self.remote.enqueue(execution, version)
        except Exception as exc:  # Redis away: the execution waits, queued, for the next pass
            log.warning(
                "execution could not be enqueued", extra={"execution": execution.id, "error": type(exc).__name__}
            )
            self._requeue(
                execution.id, ExecutionState.DISPATCHED, f"requeued: Redis unavailable ({type(exc).__name__})"
            )

    def _claim(self, session: Session, now: datetime) -> list[tuple[Execution, RemediationVersion]]:
        queued = session.execute(
            select(Execution, RemediationVersion)
            .join(RemediationVersion, RemediationVersion.hash == Execution.version_hash)
            .where(Execution.state == "queued")
            .order_by(Execution.id)
            .limit(100)
        ).all()
        paused = automation_state(session).paused
        slots = admission.Slots(session)
        claimed = []
        for execution, version in queued:
            if slots.running_for(execution.remediation) >= version.max_concurrency:
                continue  # waits for a slot; stays queued
            verdict = admission.check(session, execution, now=now, paused=paused, slots=slots)
            if verdict.action == "skip":
                admission.skip(session, execution, verdict.reason, now=now)
                continue
            if verdict.action == "queue":
                admission.hold(execution, verdict.reason)
                continue
            if executions.claim(session, execution, holder=self.holder, remote=self.remote is not None):
                slots.take(execution)
                claimed.append((execution, version))
        return claimed

    def _submit(self, request: RunRequest) -> None:
        assert self.backend is not None  # inline mode always has a backend
        execution_id = int(request.execution_id)
        try:
            self.backend.submit(
                request,
                on_start=lambda pid: results.record_start(self.database, self.config, execution_id, pid),
                on_done=lambda result: results.record_result(self.database, self.config, execution_id, result),
                on_output=lambda text: results.record_output(self.database, execution_id, text),
            )
        except RunnerError as exc:
            self._requeue(execution_id, ExecutionState.RUNNING, f"requeued: {exc}")

    def _requeue(self, execution_id: int, claimed: ExecutionState, reason: str) -> None:
        with self.database.write() as session:
            executions.requeue(session, execution_id, from_state=claimed, reason=reason)


def _end_orphan(execution: Execution) -> None:
    """A script whose runner died on this machine keeps its own session; end it too."""
    same_host = (execution.runner or "").startswith(f"{socket.gethostname()}:")
    if not (same_host and execution.pid):
        return
    try:
        if os.getsid(execution.pid) == execution.pid:  # still that session's leader, not a reused pid
            os.killpg(execution.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
