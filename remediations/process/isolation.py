"""Whether scripts run isolated from Vigil here, and the launcher that runs them accordingly.

Isolation (remediations.process.sandbox) needs root on Linux >= 5.12. Where it does not work, scripts
are refused (RefusingLauncher) unless the operator allowed unisolated runs, in which case
they run as before, as Vigil's own user, seeing its processes and files. Either way the
status says so: logged at start, in /api/v1/ready and on the dashboard.
"""

from __future__ import annotations

import atexit
import os
import pwd
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from remediations.errors import RunnerError
from remediations.process.launch import Launcher
from remediations.process.sandbox import Sandbox
from remediations.process.spawner import RefusingLauncher, Spawner
from remediations.runner import default_launcher

DEFAULT_RUN_AS = "vigil-run"
NOBODY = 65534


@dataclass(frozen=True)
class Isolation:
    """How scripts run on this machine; `detail` says with what, or why not."""

    isolated: bool
    detail: str
    allow_unisolated: bool

    @property
    def scripts(self) -> Literal["isolated", "unisolated", "refused"]:
        if self.isolated:
            return "isolated"
        return "unisolated" if self.allow_unisolated else "refused"

    def as_dict(self) -> dict[str, object]:
        return {"isolated": self.isolated, "scripts": self.scripts, "detail": self.detail}

    def message(self) -> str:
        """One line for the log and the dashboard."""
        if self.isolated:
            return f"remediation scripts run isolated ({self.detail})"
        action = (
            "they run unisolated, as Vigil's own user (settings.automation.allow_unisolated is true)"
            if self.allow_unisolated
            else "they are refused; set settings.automation.allow_unisolated: true to run them anyway"
        )
        return f"remediation scripts cannot be isolated here ({self.detail}): {action}"


def sandbox(
    *, run_as: str, hide: Sequence[str], scratch_bytes: int, max_processes: int, writable: Sequence[str] = ()
) -> Sandbox:
    """The Sandbox for these settings.

    Args:
        run_as: a user name, "uid" or "uid:gid". The default "vigil-run" falls back to
            nobody (65534) where no such user exists.
        hide: paths scripts must not see (data_dir, ...); relative ones are resolved.
        writable: paths scripts may write (everything else is read-only to them).

    Raises:
        RunnerError: run_as names a missing user, or root itself, or a path to hide is "/".
    """
    uid, gid = _user(run_as)
    paths = tuple(sorted({os.path.realpath(p) for p in hide}))
    if "/" in paths:
        raise RunnerError("cannot hide / from scripts (is data_dir the root directory?)")
    open_paths = tuple(sorted({os.path.realpath(p) for p in writable}))
    for path in open_paths:
        if not os.path.isdir(path):
            raise RunnerError(f"writable path {path} is not a directory")
        if path == "/" or any(path == h or path.startswith(h + "/") or h.startswith(path + "/") for h in paths):
            raise RunnerError(f"writable path {path} overlaps a hidden path (data_dir, config)")
    return Sandbox(
        uid=uid, gid=gid, hide=paths, writable=open_paths, scratch_bytes=scratch_bytes, max_processes=max_processes
    )


def _user(run_as: str) -> tuple[int, int]:
    if run_as.replace(":", "").isdigit():
        uid_text, _, gid_text = run_as.partition(":")
        uid = int(uid_text)
        gid = int(gid_text) if gid_text else uid
    else:
        try:
            entry = pwd.getpwnam(run_as)
            uid, gid = entry.pw_uid, entry.pw_gid
        except KeyError:
            if run_as != DEFAULT_RUN_AS:
                raise RunnerError(f"run_as user {run_as!r} does not exist") from None
            uid = gid = NOBODY
    if uid == 0 or gid == 0:
        raise RunnerError("run_as must not be root: scripts would run with Vigil's powers")
    return uid, gid


_probes: dict[Sandbox, str | None] = {}
_probe_lock = threading.Lock()


def probe(box: Sandbox, *, python: str = sys.executable) -> str | None:
    """None if scripts can be isolated with `box` here, else why not (cached per process)."""
    with _probe_lock:
        if box not in _probes:
            if sys.platform != "linux":
                _probes[box] = f"isolation needs Linux, this is {sys.platform}"
            elif os.geteuid() != 0:
                _probes[box] = (
                    f"Vigil runs as uid {os.geteuid()}; isolating scripts needs root (namespaces and another uid)"
                )
            else:
                spawner = Spawner(sandbox=box, python=python, pool_size=1, max_servers=1)
                try:
                    _probes[box] = spawner.check()
                finally:
                    spawner.close()
        return _probes[box]


def status(box: Sandbox, *, allow_unisolated: bool) -> Isolation:
    """The isolation status for `box` (probing once per process)."""
    reason = probe(box)
    if reason is None:
        detail = (
            f"own pid and mount namespaces, uid {box.uid}, {len(box.hide)} path(s) "
            f"hidden, {box.max_processes} processes, {box.scratch_bytes} bytes writable"
        )
        return Isolation(True, detail, allow_unisolated)
    return Isolation(False, reason, allow_unisolated)


_spawners: dict[Sandbox, Spawner] = {}


def _spawner(box: Sandbox) -> Spawner:
    """One isolated Spawner per Sandbox and process (like runner.default_launcher)."""
    with _probe_lock:
        if box not in _spawners:
            _spawners[box] = Spawner(sandbox=box)
            atexit.register(_spawners[box].close)
        return _spawners[box]


def launcher(box: Sandbox, *, allow_unisolated: bool, unisolated: Launcher | None = None) -> tuple[Launcher, Isolation]:
    """The launcher scripts must go through, and the status it implies.

    Args:
        unisolated: used when isolation is unavailable and allowed to be skipped; None for
            runner.default_launcher().
    """
    state = status(box, allow_unisolated=allow_unisolated)
    if state.isolated:
        return _spawner(box), state
    if allow_unisolated:
        return (unisolated if unisolated is not None else default_launcher()), state
    return RefusingLauncher(
        f"scripts cannot be isolated here ({state.detail}) and settings.automation.allow_unisolated is false"
    ), state
