"""Run remediations in a bounded thread pool inside the scheduler process (the default).

Each worker thread only waits on its child process, so threads are cheap; max_workers
bounds how many scripts run at once on this machine, and max_pending bounds the queue so
a flood of alerts is refused (RunnerError) instead of piling up in memory. The launcher
(by default the process-wide spawn servers) is started with the backend so the first run
does not wait for it, and requests without a workdir_root get a tmpfs one when available.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone

from remediations.backends.base import OnDone, OnOutput, OnStart
from remediations.errors import RunnerError
from remediations.process import workdirs
from remediations.process.launch import Launcher
from remediations.runner import RunRequest, RunResult, default_launcher, run

log = logging.getLogger(__name__)


class InlineBackend:
    """A Backend on a ThreadPoolExecutor with at most max_workers concurrent runs."""

    def __init__(
        self,
        max_workers: int,
        *,
        max_pending: int | None = None,
        launcher: Launcher | None = None,
        workdir_root: str | None = "auto",
    ) -> None:
        """Args:
        max_workers: concurrent runs (threads), >= 1.
        max_pending: most accepted runs not yet finished (running + queued); None
            for no bound.
        launcher: starts the scripts; None for runner.default_launcher().
        workdir_root: for requests whose workdir_root is None; "auto" picks
            workdirs.fast_root() (tmpfs if roomy), None keeps the system temp dir.
        """
        if max_workers < 1 or (max_pending is not None and max_pending < max_workers):
            raise ValueError(
                f"need max_workers >= 1 and max_pending >= max_workers, got {max_workers} and {max_pending}"
            )
        self._launcher = launcher if launcher is not None else default_launcher()
        self._launcher.start()
        self._workdir_root = workdirs.fast_root() if workdir_root == "auto" else workdir_root
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="vigil-run")
        self._max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()

    def submit(
        self,
        req: RunRequest,
        on_start: OnStart | None = None,
        on_done: OnDone | None = None,
        on_output: OnOutput | None = None,
    ) -> Future[RunResult]:
        """Queue a run; see Backend.submit.

        Raises:
            RunnerError: the queue holds max_pending runs, or the backend is shut down.
        """
        if req.workdir_root is None and self._workdir_root is not None:
            req = dataclasses.replace(req, workdir_root=self._workdir_root)
        with self._lock:
            if self._max_pending is not None and self._pending >= self._max_pending:
                raise RunnerError(
                    f"inline backend is full ({self._pending} runs pending, "
                    f"max {self._max_pending}); execution {req.execution_id} "
                    "not accepted"
                )
            try:
                future = self._pool.submit(self._run, req, on_start, on_done, on_output)
            except RuntimeError as exc:  # submit after shutdown
                raise RunnerError(f"inline backend is shut down: {exc}") from None
            self._pending += 1
        # A run cancelled by shutdown never reaches _run's release.
        future.add_done_callback(lambda f: self._release() if f.cancelled() else None)
        return future

    def _release(self) -> None:
        with self._lock:
            self._pending -= 1

    def _run(
        self, req: RunRequest, on_start: OnStart | None, on_done: OnDone | None, on_output: OnOutput | None = None
    ) -> RunResult:
        started_at = datetime.now(timezone.utc)
        try:
            result = run(req, on_start=on_start, launcher=self._launcher, on_output=on_output)
        except Exception as exc:  # a broken callback must not lose the execution
            log.exception("execution runner raised", extra={"execution": req.execution_id})
            now = datetime.now(timezone.utc)
            result = RunResult(
                "error",
                None,
                f"runner error: {exc!r}",
                False,
                started_at,
                now,
                (now - started_at).total_seconds(),
                None,
            )
        finally:
            # Released before the future resolves, so a caller woken by it can submit again.
            self._release()
        if on_done is not None:
            on_done(result)
        return result

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting runs; queued runs that have not started are cancelled."""
        self._pool.shutdown(wait=wait, cancel_futures=True)
