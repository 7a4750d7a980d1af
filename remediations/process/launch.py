"""Starting a script's process: the Launcher interface and the prlimit launcher.

A Launcher starts argv as the leader of a new session, in `cwd`, with exactly `env`, the
given rlimits, stdin and stdout+stderr on pipes, and returns a Child: the pid, the parent's
pipe ends and a pidfd that becomes readable when the script exits. Two exist:
    * remediations.process.spawner.Spawner (the default): single-threaded spawn servers that hold
      the limits themselves posix_spawn the script; no extra exec, no fork of the
      threaded scheduler.
    * PrlimitLauncher: subprocess.Popen of `prlimit --cpu=.. -- script` (see
      remediations.process.limits); the fallback when the helper cannot run.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import Protocol

from remediations.errors import RunnerError
from remediations.process.limits import prlimit_argv

Limits = Mapping[int, tuple[int, int]]


class Child(Protocol):
    """A started script; the runner owns stdin_fd and stdout_fd and closes them."""

    pid: int
    stdin_fd: int
    stdout_fd: int
    pidfd: int | None  # readable once the script exited; None on kernels before 5.3
    wrapped: bool  # argv went through prlimit, whose exit 126/127 means "could not exec"

    def exited(self) -> bool:
        """Non-blocking: True once the script has exited (used when pidfd is None)."""
        ...

    def wait(self) -> int | None:
        """The exit code (-N for signal N) once it exited; None if it cannot be known."""
        ...

    def may_have_leftovers(self) -> bool:
        """After the exit: False only if provably no process of its session is left."""
        ...

    def close(self) -> None:
        """Release what the child holds besides the pipes (pidfd, sockets)."""
        ...


class Launcher(Protocol):
    """Starts scripts; see the module docstring for what every launcher guarantees."""

    def start(self) -> None:
        """Prepare ahead of the first launch (e.g. start a helper); optional work."""
        ...

    def launch(self, argv: list[str], *, env: Mapping[str, str], cwd: str, limits: Limits) -> Child:
        """Start argv; raises RunnerError (with the reason) if it cannot be started."""
        ...


class PopenChild:
    """A script started by subprocess.Popen in this process."""

    def __init__(self, proc: subprocess.Popen[bytes], stdin_fd: int, stdout_fd: int, *, wrapped: bool) -> None:
        self.proc, self.pid = proc, proc.pid
        self.stdin_fd, self.stdout_fd, self.wrapped = stdin_fd, stdout_fd, wrapped
        try:
            self.pidfd: int | None = os.pidfd_open(proc.pid)
        except OSError:  # kernel < 5.3: the runner polls exited() instead
            self.pidfd = None

    def exited(self) -> bool:
        # WNOWAIT: leave the zombie unreaped so its pid (the session id) stays reserved.
        return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def wait(self) -> int | None:
        return self.proc.wait()

    def may_have_leftovers(self) -> bool:
        return True  # orphans went to init: only a /proc scan can tell

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class PrlimitLauncher:
    """Popen in this process; limits through the util-linux prlimit wrapper."""

    def start(self) -> None:
        pass

    def launch(self, argv: list[str], *, env: Mapping[str, str], cwd: str, limits: Limits) -> Child:
        """Start argv under `prlimit` (directly when there are no limits).

        Raises:
            RunnerError: limits are requested but prlimit is missing, or exec failed.
        """
        wrapper = prlimit_argv(dict(limits))
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            proc = subprocess.Popen(
                [*wrapper, *argv],
                stdin=in_r,
                stdout=out_w,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            os.close(in_w)
            os.close(out_r)
            raise RunnerError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
        finally:
            os.close(in_r)
            os.close(out_w)
        return PopenChild(proc, in_w, out_r, wrapped=bool(wrapper))
