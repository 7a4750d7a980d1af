"""Scripts' isolation for this process, from the configuration (see remediations.process.isolation).

The scheduler and `vigil worker` get their launcher here; /api/v1/ready and the dashboard
read the status. The status is probed once per process (starting an isolated spawn server).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from config.schema import Config
from remediations.errors import RunnerError
from remediations.process import isolation
from remediations.process.isolation import Isolation
from remediations.process.launch import Launcher
from remediations.process.sandbox import Sandbox
from remediations.process.spawner import RefusingLauncher
from remediations.runner import default_launcher

log = logging.getLogger("vigil.isolation")


def sandbox(config: Config) -> Sandbox:
    """The Sandbox from settings.automation: data_dir and the config file are hidden.

    Raises:
        RunnerError: run_as or a hidden path is unusable.
    """
    automation = config.settings.automation
    hide = [str(Path(config.settings.data_dir).resolve()), *automation.hide_paths]
    if config.source_file and os.path.exists(config.source_file):
        hide.append(str(Path(config.source_file).resolve()))
    return isolation.sandbox(
        run_as=automation.run_as,
        hide=hide,
        scratch_bytes=automation.max_workdir_bytes,
        max_processes=automation.max_processes,
        writable=automation.writable_paths,
    )


def status(config: Config) -> Isolation:
    """Whether scripts run isolated here (for /ready and the dashboard)."""
    allow = config.settings.automation.allow_unisolated
    try:
        return isolation.status(sandbox(config), allow_unisolated=allow)
    except RunnerError as exc:
        return Isolation(False, str(exc), allow)


def launcher(config: Config) -> Launcher:
    """The launcher scripts run through in this process; logs the isolation status."""
    allow = config.settings.automation.allow_unisolated
    try:
        chosen, state = isolation.launcher(sandbox(config), allow_unisolated=allow)
    except RunnerError as exc:
        state = Isolation(False, str(exc), allow)
        chosen = default_launcher() if allow else RefusingLauncher(state.message())
    (log.info if state.isolated else log.warning)("%s", state.message())
    return chosen
