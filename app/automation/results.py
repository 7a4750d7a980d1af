"""Record how an execution went, wherever it ran (inline thread or RQ worker)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app import metrics
from app.alerts.models import Alert
from app.automation import effectiveness, executions
from app.automation.models import Binding, Execution, RemediationVersion
from app.automation.service import alert_context
from app.db import Database, utcnow
from app.diagnostics import service as diagnostics
from app.events import Event, publish
from config.schema import AutomationSettings, Config
from remediations import RunRequest, RunResult, breaker_should_open
from remediations.lifecycle import FAILED, ExecutionState

log = logging.getLogger("vigil.executions")


def build_request(
    session: Session,
    execution: Execution,
    version: RemediationVersion,
    *,
    settings: AutomationSettings,
    environ: Mapping[str, str],
    scripts_dir: Path,
) -> RunRequest:
    """What the runner needs to run this execution: the script's file (written if missing), its
    parameters, its alert, the allowed environment and the resource limits."""
    alert = session.get(Alert, execution.alert_id) if execution.alert_id else None
    env = {name: environ[name] for name in version.allowed_env if name in environ}
    return RunRequest(
        execution_id=execution.id,
        script_path=str(script_file(scripts_dir, version)),
        params=execution.params,
        alert=alert_context(alert) if alert else None,
        env=env,
        timeout_s=version.timeout_s,
        max_output_bytes=settings.max_output_bytes,
        memory_bytes=settings.memory_bytes,
        max_file_bytes=settings.max_file_bytes,
        max_open_files=settings.max_open_files,
        cpu_s=int(version.timeout_s) + 1,
        diagnosis=diagnostics.latest_result(session, alert.id) if alert else None,
    )


def script_file(scripts_dir: Path, version: RemediationVersion) -> Path:
    """Scripts are content-addressed files, written once (atomically) from the database."""
    path = scripts_dir / version.hash
    if not path.exists():
        scripts_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(version.script, encoding="utf-8")
        tmp.chmod(0o700)
        tmp.replace(path)
    return path


def record_start(database: Database, config: Config, execution_id: int, pid: int) -> None:
    """The script's process started: store its pid and start time in a transaction of its own and,
    unless it is a diagnostic script, tell chat."""
    now = utcnow()
    with database.write() as session:
        execution = session.get(Execution, execution_id)
        if execution is not None:
            executions.started(execution, pid=pid, now=now)
            if execution.trigger != "diagnostic":  # a diagnostic script is not "remediating" the alert
                publish(session, [Event("remediation.started", now, execution=execution)], config=config)


def record_output(database: Database, execution_id: int, text: str) -> None:
    """A running script's output so far, for the execution page to follow; the final output
    replaces it in record_result. A failed write only delays what the page shows."""
    try:
        with database.write() as session:
            executions.write_output(session, execution_id, text)
    except Exception as exc:  # the database away for a moment must not stop the script
        log.warning(
            "execution output so far not stored", extra={"execution": execution_id, "error": type(exc).__name__}
        )


def record_result(database: Database, config: Config, execution_id: int, result: RunResult) -> None:
    """Store a finished run's result in a transaction of its own: state, output, the breaker, the watch
    for its alert's resolution, the timeline, chat, audit and metrics. A run already ended elsewhere
    (marked interrupted, say) is left as it is."""
    with database.write() as session:
        execution = session.get(Execution, execution_id)
        if execution is None or execution.state != ExecutionState.RUNNING:
            return  # already reconciled elsewhere (e.g. marked interrupted)
        executions.finish(execution, result)
        _close_loop(session, config, execution, result.finished_at)
        _update_breaker(session, config, execution, result.finished_at)
        told = "remediation.succeeded" if execution.state == "succeeded" else "remediation.failed"
        told = "diagnostic.output" if execution.trigger == "diagnostic" else told
        publish(
            session,
            [
                _ran_event(execution, result.finished_at),
                Event(told, result.finished_at, execution=execution),  # chat
                Event(
                    "execution.finish",
                    utcnow(),
                    target=f"execution:{execution.id}",
                    details={
                        "state": execution.state,
                        "exit_code": execution.exit_code,
                        "duration_s": round(result.duration_s, 3),
                    },
                ),
            ],
            config=config,
        )
        remediation = execution.remediation
    metrics.REMEDIATION_RUNS.labels(remediation, result.status).inc()
    metrics.REMEDIATION_DURATION.labels(remediation).observe(result.duration_s)
    log.info(
        "execution finished",
        extra={
            "execution": execution_id,
            "remediation": remediation,
            "state": result.status,
            "exit_code": result.exit_code,
        },
    )


def _ran_event(execution: Execution, now: datetime) -> Event:
    """remediation.ran on the alert's timeline (none without an alert); a diagnostic script's
    (diagnostic.ran) carries its output."""
    details: dict[str, Any] = {"execution_id": execution.id, "state": execution.state, "exit_code": execution.exit_code}
    if execution.trigger == "diagnostic":
        details["remediation"], details["output"] = execution.remediation, (execution.output or "")[-4000:]
    kind = "diagnostic.ran" if execution.trigger == "diagnostic" else "remediation.ran"
    return Event(kind, now, alert_id=execution.alert_id, details=details)


def _close_loop(session: Session, config: Config, execution: Execution, now: datetime) -> None:
    """Watch for the alert's resolution from now on; judge at once if it already resolved."""
    if execution.state != "succeeded" or not execution.alert_id or execution.trigger == "diagnostic":
        return
    executions.watch(execution, until=now + timedelta(seconds=config.settings.automation.verify_window_s))
    effectiveness.judge(session, execution, now=now)


def _update_breaker(session: Session, config: Config, execution: Execution, now: datetime) -> None:
    # Locked: two runs finishing at once each counted one failure from the same old count on
    # PostgreSQL, so the breaker opened late (a burst ran 5 times against a threshold of 3).
    binding = session.get(Binding, execution.binding_id, with_for_update=True) if execution.binding_id else None
    if binding is None:
        return
    if execution.state not in FAILED:
        binding.consecutive_failures = 0
        return
    binding.consecutive_failures += 1
    if not binding.breaker_open and breaker_should_open(binding.consecutive_failures, binding.breaker_threshold):
        binding.breaker_open = True
        publish(
            session,
            [
                Event(
                    "binding.breaker_open",
                    utcnow(),
                    target=f"binding:{binding.name}",
                    details={"consecutive_failures": binding.consecutive_failures},
                ),
                # on the alert's timeline (when the run had one) and in chat
                Event(
                    "breaker.opened",
                    now,
                    alert_id=execution.alert_id,
                    execution=execution,
                    details={"binding": binding.name},
                ),
            ],
            config=config,
        )


def interrupt(session: Session, execution: Execution, reason: str) -> None:
    """Its runner died; the reason says whether the script may have run (executions.interrupt)."""
    reason = executions.interrupt(execution, reason)
    _audit_end(session, execution)
    publish(
        session,
        [
            Event(
                "remediation.interrupted",
                _ended_at(execution),
                alert_id=execution.alert_id,
                details={"execution_id": execution.id, "reason": reason, "outcome_unknown": execution.outcome_unknown},
            )
        ],
    )


def fail(session: Session, execution: Execution, reason: str) -> None:
    """A run that could not even start (its script could not be written, say)."""
    executions.fail(execution, reason)
    _audit_end(session, execution)


def _audit_end(session: Session, execution: Execution) -> None:
    """execution.interrupted or execution.error in the audit log."""
    publish(
        session,
        [
            Event(
                f"execution.{execution.state}",
                _ended_at(execution),
                target=f"execution:{execution.id}",
                details={"reason": execution.reason, "outcome_unknown": execution.outcome_unknown},
            )
        ],
    )


def _ended_at(execution: Execution) -> datetime:
    return execution.finished_at or utcnow()  # executions._end has just set it
