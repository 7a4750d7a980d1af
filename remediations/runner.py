"""Run one remediation script safely: no shell, own session, limits, bounded output, hard timeout.

How a run goes:
    * argv is [script_path], executed through its shebang, by a Launcher
      (remediations.process.launch): by default a single-threaded spawn server that holds the
      resource limits itself posix_spawns it (remediations.process.spawner); if none can run,
      util-linux prlimit wraps the script. Never preexec_fn: unsafe in the threaded
      scheduler. See remediations.process.limits.
    * The script leads a new session and process group.
    * Environment and stdin: see remediations.process.environment. cwd is a fresh temporary
      directory (also HOME and TMPDIR), removed afterwards.
    * stdout and stderr are merged into one pipe (their relative order is what a person
      wants to read) and drained continuously so the child never blocks on a full pipe;
      only max_output_bytes are kept, head and tail halves (remediations.process.capture).
    * When the script exits, anything left in its session (a daemon it forked) gets
      SIGTERM, then SIGKILL after kill_grace_s: a run's processes do not outlive it.
      (The spawner proves most runs left nothing, which skips the /proc scan.)
    * At the timeout every process of the session (scanned in /proc, so double-forked
      grandchildren too) gets SIGTERM, then SIGKILL after kill_grace_s. The pipe is then
      closed instead of waiting for EOF, so a process that escaped with setsid() and holds
      the pipe cannot hang the runner.
    * Isolated runs (a Spawner with a Sandbox; see remediations.process.isolation) start the script
      as init of its own PID and mount namespaces, as another user: killing it kills every
      process it made, setsid() or not. (An init ignores a SIGTERM it has no handler for,
      so such a script gets SIGKILL after kill_grace_s.)
Status: exit 0 "succeeded"; other exit or signal "failed" (exit_code is -N for signal N);
timeout "timed_out"; script missing, not executable, bad interpreter or prlimit missing
"error" (output holds the reason, exit_code and pid are None). If the spawn server dies
while a script runs, its exit status is lost: exit_code None and a note ("failed" if the
script exited, else "timed_out").
"""

from __future__ import annotations

import atexit
import os
import signal
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from remediations import diagnosis_file
from remediations.errors import RunnerError
from remediations.process import workdirs
from remediations.process.capture import BoundedOutput
from remediations.process.environment import build_env, stdin_payload
from remediations.process.launch import Child, Launcher
from remediations.process.limits import rlimits
from remediations.process.pipes import Pipes
from remediations.process.sessions import live_session_pids, signal_session
from remediations.process.spawner import Spawner

Status = Literal["succeeded", "failed", "timed_out", "error"]
# After the script exits, how long output from a grandchild still holding the pipe is read.
LINGER_S = 0.5
# How often a running script's output so far is handed to on_output (a database write).
OUTPUT_EVERY_S = 1.0
# util-linux prlimit's exit codes when it cannot exec the command (EX_EXEC_FAILED/ENOENT).
_PRLIMIT_EXEC_CODES = (126, 127)


@dataclass(frozen=True)
class RunRequest:
    """Everything one run needs; plain values, so it can travel to an RQ worker as JSON.

    Attributes:
        execution_id: the execution row's id (VIGIL_EXECUTION_ID, stdin "execution_id").
        script_path: absolute path of the executable script (shebang or ELF).
        params: validated parameters (stdin "params", VIGIL_PARAM_* for scalars).
        alert: the triggering alert's plain data, None for a manual run.
        env: variables the manifest allows, already looked up by the caller.
        timeout_s: wall-clock limit; the session is then killed (plus kill_grace_s).
        max_output_bytes: output kept (head and tail halves).
        cpu_s, memory_bytes, max_open_files, max_file_bytes: RLIMIT_CPU, RLIMIT_AS,
            RLIMIT_NOFILE, RLIMIT_FSIZE; None leaves the scheduler's own limit.
        kill_grace_s: time between SIGTERM and SIGKILL.
        workdir_root: parent of the run's temporary directory; None for the system temp
            dir. A tmpfs (/dev/shm, /run/vigil) makes a run ~0.3 ms cheaper than ext4;
            InlineBackend fills in remediations.process.workdirs.fast_root() when this is None.
    """

    execution_id: int | str
    script_path: str
    params: dict[str, Any]
    alert: dict[str, Any] | None
    env: dict[str, str]
    timeout_s: float
    max_output_bytes: int = 64 * 1024
    cpu_s: int | None = None
    memory_bytes: int | None = None
    max_open_files: int | None = 256
    max_file_bytes: int | None = None
    kill_grace_s: float = 2.0
    workdir_root: str | None = None
    diagnosis: dict[str, Any] | None = None  # the alert's, as the API answers it (VIGIL_DIAGNOSIS_FILE)

    def __post_init__(self) -> None:
        if not self.timeout_s > 0 or self.max_output_bytes < 0 or self.kill_grace_s < 0:
            raise ValueError("timeout_s must be > 0, max_output_bytes and kill_grace_s >= 0")


@dataclass(frozen=True)
class RunResult:
    """How a run ended; output is the bounded, merged stdout+stderr plus vigil's notes."""

    status: Status
    exit_code: int | None
    output: str
    truncated: bool
    started_at: datetime
    finished_at: datetime
    duration_s: float
    pid: int | None = None


def run(
    req: RunRequest,
    *,
    on_start: Callable[[int], None] | None = None,
    launcher: Launcher | None = None,
    on_output: Callable[[str], None] | None = None,
) -> RunResult:
    """Run the script of `req` to completion or timeout.

    Args:
        req: what to run and with which limits.
        on_start: called with the pid once the script runs (to record "running"); if it
            raises, the run's session is killed and the exception propagates.
        launcher: starts the process; None for default_launcher().
        on_output: called with the output so far (BoundedOutput.live_text) at most every
            OUTPUT_EVERY_S while it grows, so a watcher can follow a long run.

    Returns:
        The RunResult; script failures are results, not exceptions.
    """
    started_at, t0 = datetime.now(timezone.utc), time.monotonic()
    limits = rlimits(
        cpu_s=req.cpu_s,
        memory_bytes=req.memory_bytes,
        max_open_files=req.max_open_files,
        max_file_bytes=req.max_file_bytes,
    )
    problem = _check_script(req.script_path)
    if problem is not None:
        return _error(problem, started_at, t0)
    workdir = workdirs.create(req.workdir_root)
    try:
        env = build_env(
            workdir=workdir, allowed=req.env, execution_id=req.execution_id, alert=req.alert, params=req.params
        )
        env.update(diagnosis_file.place(workdir, req.diagnosis))
        try:
            child = (launcher or default_launcher()).launch([req.script_path], env=env, cwd=workdir, limits=limits)
        except RunnerError as exc:
            return _error(str(exc), started_at, t0)
        return _supervise(child, req, on_start, started_at, t0, on_output)
    finally:
        workdirs.remove(workdir)


_default: Spawner | None = None
_default_lock = threading.Lock()


def default_launcher() -> Launcher:
    """The process-wide Spawner (started on first use, stopped at exit)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Spawner()
                atexit.register(_default.close)
    return _default


def _supervise(
    child: Child,
    req: RunRequest,
    on_start: Callable[[int], None] | None,
    started_at: datetime,
    t0: float,
    on_output: Callable[[str], None] | None = None,
) -> RunResult:
    output = BoundedOutput(req.max_output_bytes)
    tick = _LiveOutput(output, on_output) if on_output is not None else None
    payload = stdin_payload(execution_id=req.execution_id, alert=req.alert, params=req.params)
    pipes = Pipes(child, payload, output)
    try:
        if on_start is not None:
            on_start(child.pid)
        exited = pipes.wait_exit(deadline=t0 + req.timeout_s, linger_s=LINGER_S, tick=tick)
        killed = _end_session(child, pipes, req.kill_grace_s, leader_running=not exited)
    except BaseException:
        _kill_all(child.pid, exclude=None)
        raise
    finally:
        pipes.close()
        returncode = child.wait()
        child.close()
    status, text = _outcome(req, output.text(), returncode, exited, killed, wrapped=child.wrapped)
    return RunResult(
        status,
        returncode,
        text,
        output.truncated,
        started_at,
        datetime.now(timezone.utc),
        time.monotonic() - t0,
        child.pid,
    )


class _LiveOutput:
    """Hands the growing output to a watcher, at most once per OUTPUT_EVERY_S."""

    def __init__(self, output: BoundedOutput, publish: Callable[[str], None]) -> None:
        self.output, self.publish = output, publish
        self.sent_total, self.sent_at = 0, 0.0

    def __call__(self) -> float:
        """Publish if there is news and it is time; return the seconds until it may be."""
        if self.output.total == self.sent_total:
            return float("inf")
        wait_s = self.sent_at + OUTPUT_EVERY_S - time.monotonic()
        if wait_s > 0:
            return wait_s
        self.sent_total, self.sent_at = self.output.total, time.monotonic()
        self.publish(self.output.live_text())
        return float("inf")


def _outcome(
    req: RunRequest, text: str, returncode: int | None, exited: bool, killed: set[int], *, wrapped: bool
) -> tuple[Status, str]:
    """The status and the output with vigil's notes appended."""
    notes = []
    if returncode is None:
        notes.append("[vigil: exit status unknown: the spawn server exited while the script ran]")
    if not exited:
        notes.append(f"[vigil: timed out after {req.timeout_s:g}s; killed {len(killed)} process(es) of its session]")
    elif killed:
        notes.append(f"[vigil: script exited; killed {len(killed)} leftover process(es) of its session]")
    if returncode is not None and returncode < 0 and exited:
        notes.append(f"[vigil: script killed by {_signal_name(-returncode)}]")
    status: Status = "timed_out" if not exited else "succeeded" if returncode == 0 else "failed"
    if (
        wrapped
        and status == "failed"
        and returncode in _PRLIMIT_EXEC_CODES
        and text.startswith("prlimit: failed to execute")
    ):
        status = "error"  # the script never ran: prlimit could not exec it
    if notes:
        text = text + ("" if not text or text.endswith("\n") else "\n") + "\n".join(notes) + "\n"
    return status, text


def _end_session(child: Child, pipes: Pipes, grace_s: float, *, leader_running: bool) -> set[int]:
    """SIGTERM the session's live processes, drain output up to grace_s, then SIGKILL.

    Returns:
        Pids signalled. The leader is excluded once it has exited. Its pid, the session
        id, cannot be reused while the leader is an unreaped zombie (Popen) or while any
        process still has that session id (the kernel frees a pid number only when no
        process uses it as pid, process group or session id), so no stranger is hit.
    """
    if not leader_running and not child.may_have_leftovers():
        return set()
    sid = child.pid
    exclude = None if leader_running else sid
    signalled = signal_session(sid, signal.SIGTERM, exclude=exclude)
    if not signalled:
        return signalled
    end = time.monotonic() + grace_s
    while time.monotonic() < end and live_session_pids(sid, exclude=exclude):
        pipes.pump(timeout=min(0.05, max(0.0, end - time.monotonic())))
    return signalled | _kill_all(sid, exclude=exclude)


def _kill_all(sid: int, *, exclude: int | None) -> set[int]:
    """SIGKILL the session's live processes until none is left; return the pids killed."""
    killed: set[int] = set()
    for _ in range(50):  # a fork loop can spawn while we kill; a few rounds end it
        survivors = signal_session(sid, signal.SIGKILL, exclude=exclude)
        if not survivors:
            break
        killed |= survivors
        time.sleep(0.01)
    return killed


def _check_script(path: str) -> str | None:
    """Return why `path` cannot be executed, or None.

    This matters beyond nicer messages: the prlimit fallback execs with execvp, which runs
    a file the kernel refuses (ENOEXEC) through /bin/sh. Only an ELF file, or a "#!" script
    whose interpreter is ELF or itself a "#!" script, gets past this check, so that shell
    fallback can never happen.
    """
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            return f"script {path} is not a regular file"
        if not os.access(path, os.X_OK):
            return f"script {path} is not executable (mode {stat.filemode(info.st_mode)})"
        first = _first_line(path)
    except OSError as exc:
        return f"script {path}: {exc.strerror or exc}"
    if first.startswith(b"\x7fELF"):
        return None
    if not first.startswith(b"#!"):
        return f"script {path} has no #! line (the kernel cannot execute it)"
    interpreter = first[2:].strip().split(b" ", 1)[0].decode("utf-8", "replace")
    if not os.path.isabs(interpreter) or not os.access(interpreter, os.X_OK):
        return f"script {path}: interpreter {interpreter!r} not found or not executable"
    try:
        magic = _first_line(interpreter)[:4]
    except OSError:  # execute-only interpreter: let the kernel decide
        return None
    if magic != b"\x7fELF" and not magic.startswith(b"#!"):
        return f"script {path}: interpreter {interpreter!r} is not an executable program"
    return None


def _first_line(path: str) -> bytes:
    # os.open/os.read: a buffered file object costs more than the three syscalls (hot path).
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 256).split(b"\n", 1)[0]
    finally:
        os.close(fd)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _error(message: str, started_at: datetime, t0: float) -> RunResult:
    return RunResult("error", None, message, False, started_at, datetime.now(timezone.utc), time.monotonic() - t0, None)
