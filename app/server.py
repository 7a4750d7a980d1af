"""Serve the API with Gunicorn after migrating once in the master, before any fork; keep the
scheduler child running beside it."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, Callable

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger

from app import gunicorn_conf, logformat
from config.schema import Config, Settings

log = logging.getLogger("vigil.server")

METRICS_PREFIX = "vigil-metrics-"


def prepare_metrics_dir(settings: Settings, environ: MutableMapping[str, str]) -> Path:
    """Point prometheus-client at a fresh multiprocess directory (before it is imported).

    Workers mmap their files there: on a full disk, touching a page of a grown file kills
    the worker with SIGBUS, so by default they live on /dev/shm (memory), away from data_dir.
    """
    if settings.metrics_dir:
        path = Path(settings.metrics_dir).resolve()
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
    else:
        shm = Path("/dev/shm")
        base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
        _remove_abandoned(base)
        path = Path(tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-", dir=base))
    environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def _remove_abandoned(base: Path) -> None:
    """Directories left by masters that died without cleaning up (kill -9): their pid is gone."""
    for path in base.glob(f"{METRICS_PREFIX}*-*"):
        pid = path.name[len(METRICS_PREFIX) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class SchedulerSupervisor:
    """Keeps the scheduler child of `vigil serve` running: restarted when it dies, after 1 s,
    doubling to 30 s while it keeps dying, back to 1 s once it has stayed up a minute.

    Driven from Gunicorn's master loop (`check`, at least once a second), not a thread: the
    master forks workers, and forking beside a thread can copy a held lock.
    """

    FIRST_DELAY_S, MAX_DELAY_S, STABLE_S = 1.0, 30.0, 60.0

    def __init__(self, cmd: list[str], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.cmd, self.clock = cmd, clock
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.delay_s = self.FIRST_DELAY_S
        self.restart_at: float | None = None
        self.restarts = 0
        self.stopping = False

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd)
        self.started_at = self.clock()
        log.info("scheduler started", extra={"scheduler_pid": self.proc.pid})

    def reap(self) -> None:
        """Collect the child's exit status before Gunicorn's waitpid(-1) takes it unseen."""
        if self.proc is not None:
            self.proc.poll()

    def check(self) -> None:
        if self.stopping or self.proc is None:
            return
        now = self.clock()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restart_at = None
                self.restarts += 1
                self.start()
            return
        status = self.proc.poll()
        if status is None:
            return
        up_s = now - self.started_at
        gunicorn_conf.forget_metrics_of(self.proc.pid)
        if up_s >= self.STABLE_S:
            self.delay_s = self.FIRST_DELAY_S
        log.warning(
            "scheduler exited; restarting it",
            extra={
                "scheduler_pid": self.proc.pid,
                "status": status,
                "up_s": round(up_s, 1),
                "restart": self.restarts + 1,
                "delay_s": self.delay_s,
            },
        )
        self.restart_at = now + self.delay_s
        self.delay_s = min(self.delay_s * 2, self.MAX_DELAY_S)

    def stop(self) -> None:
        self.stopping = True
        proc = self.proc
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


class SupervisingArbiter(Arbiter):
    """Gunicorn's master, also minding the scheduler child on each turn of its loop."""

    def __init__(self, app: Any, supervisor: SchedulerSupervisor) -> None:
        super().__init__(app)
        self.supervisor = supervisor

    def reap_workers(self) -> None:
        self.supervisor.reap()
        super().reap_workers()

    def manage_workers(self) -> None:
        super().manage_workers()
        self.supervisor.check()


class VigilGunicorn(BaseApplication):
    """Gunicorn serving create_app(config), its master also supervising the scheduler when given one."""

    def __init__(self, config: Config, options: dict[str, Any], supervisor: SchedulerSupervisor | None = None) -> None:
        self.vigil_config = config
        self.options = options
        self.supervisor = supervisor
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from app import create_app

        return create_app(self.vigil_config)

    def run(self) -> None:
        if self.supervisor is None:
            super().run()
            return
        try:
            SupervisingArbiter(self, self.supervisor).run()
        except RuntimeError as e:  # as BaseApplication.run reports a failed start
            log.error("gunicorn could not start", extra={"error": str(e)})
            sys.exit(1)


def gunicorn_options(
    config: Config, *, supervisor: SchedulerSupervisor | None, metrics_dir: Path | None = None
) -> dict[str, Any]:
    """Gunicorn's settings for this configuration: bind address, workers, log format, and hooks that
    start the scheduler child once ready and stop it (and remove our metrics directory) on exit."""
    s = config.settings

    def when_ready(_server: Any) -> None:
        if supervisor:
            supervisor.start()

    def on_exit(_server: Any) -> None:
        if supervisor:
            supervisor.stop()
        if metrics_dir and not s.metrics_dir:  # ours alone, made at start
            shutil.rmtree(metrics_dir, ignore_errors=True)

    options = gunicorn_conf.options()
    options.update(
        bind=f"{s.host}:{s.port}",
        when_ready=when_ready,
        on_exit=on_exit,
        logger_class=gunicorn_conf.JsonLogger if s.log_format == "json" else Logger,
    )
    if s.workers:
        options["workers"] = s.workers
    return options


def announce(config: Config, generated: str | None) -> None:
    """Where Vigil answers and, on first start, the bootstrap admin token: plain text, or in JSON
    mode one log line with the URLs as fields. The token goes to stdout only, never through
    logging, so no log handler or shipper sees it."""
    s = config.settings
    base = f"http://{s.host}:{s.port}"
    urls = {"url": base, "api_docs": f"{base}/api/docs", "dashboard": f"{base}/", "metrics": f"{base}/metrics"}
    if s.log_format == "json":
        log.info("Vigil listening", extra=urls)
        if generated:
            print(
                json.dumps(
                    {
                        "time": logformat.iso_time(time.time()),
                        "level": "WARNING",
                        "logger": log.name,
                        "message": "bootstrap admin token (shown once, store it now)",
                        "bootstrap_admin_token": generated,
                    }
                ),
                flush=True,
            )
        return
    print(
        f"Vigil listening on {base}\n  API docs:  {urls['api_docs']}\n  dashboard: {urls['dashboard']}\n"
        f"  metrics:   {urls['metrics']}",
        flush=True,
    )
    if generated:
        print(f"  bootstrap admin token (shown once, store it now): {generated}", flush=True)


def scheduler_command(config_path: str | None) -> list[str]:
    """The command line that starts `vigil scheduler` with the same configuration file."""
    cmd = [sys.executable, "-m", "app", "scheduler"]
    if config_path:
        cmd += ["--config", config_path]
    return cmd


def serve(config: Config, *, config_path: str | None, with_scheduler: bool, metrics_dir: Path | None = None) -> None:
    """Run Gunicorn in the foreground until it exits, with a supervised scheduler child when
    `with_scheduler` is set and the configuration enables the scheduler."""
    supervisor = None
    if with_scheduler and config.settings.scheduler.enabled:
        supervisor = SchedulerSupervisor(scheduler_command(config_path))
    if metrics_dir:
        log.info("prometheus multiprocess files", extra={"path": str(metrics_dir)})
    options = gunicorn_options(config, supervisor=supervisor, metrics_dir=metrics_dir)
    VigilGunicorn(config, options, supervisor).run()
