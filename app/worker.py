"""`vigil worker`: RQ workers that run remediation executions with Vigil's runner, and
diagnoses (backend rq).

The job functions read everything from the database by id (scripts are stored there), so
workers can run on other machines that share the database and Redis.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from redis import Redis
from rq import SimpleWorker, get_current_job
from rq.serializers import JSONSerializer
from sqlalchemy import select

from app import database_for
from app.automation import executions, isolation, results
from app.automation.models import Execution, RemediationVersion
from app.db import Database, utcnow
from app.diagnostics import service as diagnoses
from app.diagnostics.runner import DiagnosisRunner
from config.schema import Config
from remediations import run
from remediations.backends.rq import HEARTBEAT_S, WORKER_PREFIX
from remediations.process.launch import Launcher

_context: dict[str, object] = {}


def start(
    config: Config, environ: Mapping[str, str], *, queues: list[str], burst: bool = False, name: str | None = None
) -> None:
    """Serve the RQ queues in this process until stopped (with burst, until they are empty).
    Raises SystemExit when no Redis URL is configured."""
    redis_url = config.settings.automation.redis_url
    if redis_url is None:
        raise SystemExit("vigil worker: set REDIS_URL (or settings.automation.redis_url)")
    redis = Redis.from_url(redis_url.get_secret_value())
    # SimpleWorker runs jobs in this process: no fork and no new database pool per job. The
    # script itself always runs in its own process, so a failing script cannot take the worker down.
    worker = SimpleWorker(
        queues,
        connection=redis,
        serializer=JSONSerializer,
        name=name,
        worker_ttl=15,
        job_monitoring_interval=HEARTBEAT_S,
    )
    _context.update(config=config, environ=dict(environ), worker=worker)
    worker.work(burst=burst, with_scheduler=False)


def execute(execution_id: int) -> str:
    """The RQ job: claim the execution (at most once), run it, record the result."""
    config: Config = _context["config"]  # type: ignore[assignment]
    database = _database(config)
    job = get_current_job()
    worker = job.worker_name if job else f"pid-{os.getpid()}"
    with database.write() as session:
        if not executions.claim_dispatched(session, execution_id, runner=f"{WORKER_PREFIX}{worker}"):
            return "skipped: already claimed or no longer dispatched"
        execution = session.get(Execution, execution_id)
        assert execution is not None  # the UPDATE just matched it
        version = session.scalars(
            select(RemediationVersion).where(RemediationVersion.hash == execution.version_hash)
        ).one()
        scripts_dir = Path(config.settings.data_dir).resolve() / "scripts"
        try:
            request = results.build_request(
                session,
                execution,
                version,
                settings=config.settings.automation,
                environ=_context["environ"],  # type: ignore[arg-type]
                scripts_dir=scripts_dir,
            )
        except OSError as exc:  # e.g. a full disk on this worker: fail the run clearly
            results.fail(session, execution, f"error: cannot write the script to {scripts_dir}: {exc.strerror or exc}")
            return "error"
    with _heartbeats():
        result = run(
            request,
            on_start=lambda pid: results.record_start(database, config, execution_id, pid),
            launcher=_launcher(config),
            on_output=lambda text: results.record_output(database, execution_id, text),
        )
    results.record_result(database, config, execution_id, result)
    return result.status


def diagnose(diagnosis_id: int, attempt: int) -> str:
    """The RQ job of a diagnosis: claim the row for this attempt (at most once), run, store."""
    config: Config = _context["config"]  # type: ignore[assignment]
    database = _database(config)
    job = get_current_job()
    holder = f"{diagnoses.WORKER_PREFIX}{job.worker_name if job else f'pid-{os.getpid()}'}"
    with database.write() as session:
        if not diagnoses.start_remote(session, diagnosis_id=diagnosis_id, attempt=attempt, holder=holder, now=utcnow()):
            return "skipped: already claimed, handed over again or no longer queued"
    with _heartbeats():
        # Sources are built per run: a worker has no scrape or host history (those stay in the scheduler).
        return DiagnosisRunner(database, config, {}, holder=holder).run(diagnosis_id)


@contextmanager
def _heartbeats() -> Iterator[None]:
    """SimpleWorker does not beat while a job runs; the scheduler reads silence as death."""
    worker = _context.get("worker")
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                worker.heartbeat()  # type: ignore[attr-defined]
            except Exception:  # Redis briefly away: the next beat may pass
                continue

    thread = threading.Thread(target=beat, daemon=True) if worker is not None else None
    if thread:
        thread.start()
    try:
        yield
    finally:
        stop.set()


def _launcher(config: Config) -> Launcher:
    if "launcher" not in _context:  # once per worker: it probes isolation and logs the outcome
        _context["launcher"] = isolation.launcher(config)
    launcher: Launcher = _context["launcher"]  # type: ignore[assignment]
    return launcher


def _database(config: Config) -> Database:
    # One pool per process (checked by pid, in case a forking worker class is used).
    pid = os.getpid()
    if _context.get("pid") != pid:
        _context.update(pid=pid, database=database_for(config, pool_size=2))
    database: Database = _context["database"]  # type: ignore[assignment]
    return database
