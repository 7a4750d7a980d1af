"""Serve the API with Gunicorn after migrating once in the master, before any fork."""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from app import gunicorn_conf
from config.schema import Config

log = logging.getLogger("vigil.server")


def prepare_metrics_dir(data_dir: str, environ: dict[str, str]) -> None:
    """Point prometheus-client at a fresh multiprocess directory (before it is imported)."""
    path = Path(data_dir).resolve() / "prometheus-multiproc"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


class VigilGunicorn(BaseApplication):
    def __init__(self, config: Config, options: dict[str, Any]) -> None:
        self.vigil_config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from app import create_app

        return create_app(self.vigil_config)


def gunicorn_options(config: Config, *, scheduler_cmd: list[str] | None) -> dict[str, Any]:
    s = config.settings
    state: dict[str, subprocess.Popen[bytes]] = {}

    def when_ready(_server: Any) -> None:
        if scheduler_cmd:
            state["scheduler"] = subprocess.Popen(scheduler_cmd)
            log.info("scheduler started pid=%s", state["scheduler"].pid)

    def on_exit(_server: Any) -> None:
        proc = state.get("scheduler")
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    options = gunicorn_conf.options()
    options.update(bind=f"{s.host}:{s.port}", when_ready=when_ready, on_exit=on_exit)
    if s.workers:
        options["workers"] = s.workers
    return options


def scheduler_command(config_path: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "app", "scheduler"]
    if config_path:
        cmd += ["--config", config_path]
    return cmd


def serve(config: Config, *, config_path: str | None, with_scheduler: bool) -> None:
    cmd = scheduler_command(config_path) if with_scheduler and config.settings.scheduler.enabled else None
    VigilGunicorn(config, gunicorn_options(config, scheduler_cmd=cmd)).run()

