"""The spawn server: starts scripts with resource limits on behalf of the threaded scheduler.

remediations.process.spawner runs this file as `python -I -S spawn_server.py CONTROL_FD LIMITS [SANDBOX]`,
LIMITS being "resource:soft:hard,..." (possibly empty), SANDBOX a remediations.process.sandbox.Sandbox
as JSON. It imports only the standard library (never remediations; sandbox.py, itself
standard library only, is loaded by path) so it starts in ~30 ms without site-packages.

With SANDBOX, scripts run isolated (see remediations.process.sandbox): the server forks each one
into its own PID and mount namespaces as another user instead of posix_spawning it, the
request carries the run's limits (the child applies them), and the server checks at start
that isolation works (a self-test run), answering "failed" with the reason if it does not.

Why it exists: rlimits must hold from a script's first instruction, so they must be set
before exec, yet a forked child of the multi-threaded scheduler may deadlock on a lock
another thread held (why preexec_fn is unsafe there), and the prlimit wrapper costs one
more exec per run. A forked Python child costs as much again (copy-on-write faults on the
interpreter's heap: ~1 ms here). So a server applies LIMITS to *itself*, hard limits
included, once at start-up (it is single-threaded, nothing can race), and starts every
script with os.posix_spawn (vfork+exec, ~0.5 ms), which inherits them. Hence one server
per distinct limit set. The server needs little of what it limits: a few MiB of address
space, two descriptors per running script, and CPU time, which it watches: past half its
RLIMIT_CPU soft limit it asks to be replaced (the "retire" flag) rather than be killed.

Protocol, AF_UNIX SOCK_SEQPACKET, one marshal-encoded tuple per packet:
    control, parent -> server: (argv, env, cwd) (with SANDBOX: (argv, env, cwd, limits),
        limits a list of (resource, soft, hard)) with three fds attached: the script's
        stdin, its stdout (also its stderr) and the run's reply socket; argv is a list of
        bytes, env a dict of bytes, cwd bytes.
    control, server -> parent, once: ("ready", is_subreaper) or ("failed", reason).
    reply, server -> parent: ("started", pid, retire) with a pidfd of the script attached,
        later ("exited", wait status); or ("error", reason) if exec failed, or
        ("refused", reason) if nothing was tried (no descriptors to spare). Then the
        server closes the reply socket.
After the parent closes the control socket (shutdown, replacement, or the scheduler died)
the server starts nothing more and exits once the scripts it started have exited.

It is a child subreaper (PR_SET_CHILD_SUBREAPER): processes a script leaves behind are
reparented to it rather than to init, so the parent finds a run's leftovers in this
process's children list instead of scanning /proc, and the server reaps them.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import resource
import select
import signal
import socket
import sys
from typing import Any

_PR_SET_CHILD_SUBREAPER = 36
MAX_REQUEST_BYTES = 1 << 18  # the parent falls back to prlimit for larger requests
# Descriptors the server keeps besides two per running script (control, wakeup pipe,
# the three arriving with a request, a pidfd, Python's own), with a margin.
_BASE_FDS = 16
# Every signal starts with its default action, as from a login shell: Python ignores SIGPIPE
# and SIGXFSZ, this server SIGINT, and whoever started Vigil may have ignored more (nohup: SIGHUP).
_RESET_SIGNALS = tuple(signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP})


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    control.set_inheritable(False)  # pass_fds made it inheritable; scripts must not get it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is for the scheduler
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)  # SIGCHLD wakes poll() through this pipe
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    subreaper = _become_subreaper()
    try:
        limits = [tuple(int(n) for n in item.split(":")) for item in sys.argv[2].split(",") if item]
        for res, soft, hard in limits:
            resource.setrlimit(res, (soft, hard))
    except (ValueError, OSError) as exc:
        control.send(marshal.dumps(("failed", f"cannot set limits {sys.argv[2]}: {exc}")))
        return
    jail = None
    if len(sys.argv) > 3 and sys.argv[3]:
        try:
            jail = _jail(sys.argv[3])
        except Exception as exc:  # noqa: BLE001 (any failure means: no isolation here)
            control.send(marshal.dumps(("failed", f"scripts cannot be isolated: {exc}")))
            return
    control.send(marshal.dumps(("ready", subreaper)))
    _Server(control, wake_r, jail).serve()


def _jail(spec: str) -> Any:
    """A sandbox.Jail for `spec` that passed its self-test (raises why otherwise)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox.py")
    module_spec = importlib.util.spec_from_file_location("vigil_sandbox", path)
    assert module_spec is not None and module_spec.loader is not None  # a .py path always has one
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["vigil_sandbox"] = module  # dataclasses looks its module up there
    module_spec.loader.exec_module(module)
    jail = module.Jail(module.Sandbox.decode(spec))
    jail.check()
    return jail


def _become_subreaper() -> bool:
    try:
        import ctypes  # only here: the one libc call the standard library does not wrap

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


class _Server:
    def __init__(self, control: socket.socket, wake_r: int, jail: Any = None) -> None:
        self.control, self.wake_r, self.jail = control, wake_r, jail
        self.runs: dict[int, socket.socket] = {}  # script pid -> its reply socket
        self.max_fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        cpu_soft = resource.getrlimit(resource.RLIMIT_CPU)[0]
        self.cpu_budget_s = cpu_soft / 2 if cpu_soft != resource.RLIM_INFINITY else None

    def serve(self) -> None:
        poller = select.poll()
        poller.register(self.control, select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        accepting = True
        while accepting or self.runs:  # after the parent closed, report the runs still going
            for fd, _ in poller.poll():
                if fd == self.wake_r:
                    while _drain(self.wake_r):
                        pass
                    self.reap()
                elif not self.accept():
                    accepting = False
                    poller.unregister(self.control)

    def accept(self) -> bool:
        """Start the script of one request; False when the parent has closed the socket."""
        msg, fds, flags, _ = socket.recv_fds(self.control, MAX_REQUEST_BYTES, 3)
        if not msg and not fds:
            return False
        for fd in fds:  # SCM_RIGHTS descriptors arrive inheritable
            os.set_inheritable(fd, False)
        if len(fds) != 3 or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            for fd in fds:  # malformed; its sender sees EOF on the reply socket
                os.close(fd)
            return True
        stdin_fd, stdout_fd, reply_fd = fds
        # Family and type given: otherwise socket() probes them with three syscalls.
        reply = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, 0, reply_fd)
        try:
            self.start(marshal.loads(msg), stdin_fd, stdout_fd, reply)
        finally:
            os.close(stdin_fd)
            os.close(stdout_fd)
        return True

    def start(self, request: tuple[Any, ...], stdin_fd: int, stdout_fd: int, reply: socket.socket) -> None:
        if 2 * len(self.runs) + _BASE_FDS > self.max_fds:
            _send(
                reply,
                (
                    "refused",
                    f"spawn server has {len(self.runs)} runs, no "
                    f"descriptors to spare under RLIMIT_NOFILE={self.max_fds}",
                ),
            )
            reply.close()
            return
        try:
            pid = self.spawn(request, stdin_fd, stdout_fd)
        except Exception as exc:  # noqa: BLE001 (OSError, or the jail's SandboxError)
            _send(reply, ("error", str(exc)))
            reply.close()
            return
        # Opened before this loop can reap the script, so the pidfd names the right process.
        pidfd = os.pidfd_open(pid)
        try:
            _send(reply, ("started", pid, self.retiring()), (pidfd,))
        finally:
            os.close(pidfd)
        self.runs[pid] = reply

    def spawn(self, request: tuple[Any, ...], stdin_fd: int, stdout_fd: int) -> int:
        """Start the script of `request`; its pid. Raises with the reason it cannot."""
        argv, env, cwd = request[:3]
        if self.jail is not None:
            return int(self.jail.spawn(argv, env, os.fsdecode(cwd), request[3], stdin_fd, stdout_fd))
        what = "enter the work dir of"
        try:
            # posix_spawn has no chdir action (Python 3.11); the child inherits ours.
            os.chdir(cwd)
            what = "start"
            return os.posix_spawn(
                argv[0],
                argv,
                env,
                setsid=True,
                setsigdef=_RESET_SIGNALS,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, stdin_fd, 0),
                    (os.POSIX_SPAWN_DUP2, stdout_fd, 1),
                    (os.POSIX_SPAWN_DUP2, stdout_fd, 2),
                ],
            )
        except OSError as exc:
            raise OSError(f"cannot {what} {os.fsdecode(argv[0])}: {exc.strerror or exc}") from None

    def retiring(self) -> bool:
        """True once this server used half its CPU limit: the parent should replace it."""
        if self.cpu_budget_s is None:
            return False
        times = os.times()
        return times.user + times.system > self.cpu_budget_s

    def reap(self) -> None:
        """Reap every exited child: scripts (reported) and orphans reparented to us (not)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            reply = self.runs.pop(pid, None)
            if reply is not None:
                _send(reply, ("exited", status))
                reply.close()


def _drain(fd: int) -> bool:
    try:
        return bool(os.read(fd, 512))
    except BlockingIOError:
        return False


def _send(reply: socket.socket, message: tuple[str | int | bool, ...], fds: tuple[int, ...] = ()) -> None:
    try:
        socket.send_fds(reply, [marshal.dumps(message)], fds, socket.MSG_DONTWAIT)
    except OSError:
        pass  # the parent gave up on this run (or exited); nobody is left to tell


if __name__ == "__main__":
    main()
