"""Our side of one spawn server process (remediations.process.spawn_server) and the scripts it starts.

ServerProcess starts a server for one limit set and sends it spawn requests: the request
travels over the SOCK_SEQPACKET control socket with the script's pipe ends and a fresh
per-run reply socket attached (SCM_RIGHTS). Each calling thread then waits on its own
reply socket, so requests from many threads need no lock. SpawnedChild is the Child
(remediations.process.launch) the runner then supervises.
"""

from __future__ import annotations

import marshal
import os
import select
import socket
import subprocess
from pathlib import Path
from typing import Any

from remediations.errors import RunnerError

SERVER_PATH = str(Path(__file__).with_name("spawn_server.py"))
# spawn_server receives up to 256 KiB; larger requests (a huge environment) use the fallback.
MAX_REQUEST_BYTES = 240 * 1024
# How long a started server may take to say "ready", and a request to be answered.
READY_TIMEOUT_S = 10.0
ANSWER_TIMEOUT_S = 30.0

LimitsKey = tuple[tuple[int, int, int], ...]


class ServerStartError(Exception):
    """A spawn server could not be started; the message says why."""


class ServerProcess:
    """One running spawn server; `in_flight` counts requests awaiting their answer."""

    def __init__(self, proc: subprocess.Popen[bytes], control: socket.socket, subreaper: bool) -> None:
        self.proc, self.control, self.subreaper = proc, control, subreaper
        self.pid, self.owner_pid = proc.pid, os.getpid()
        self._children_path = f"/proc/{self.pid}/task/{self.pid}/children"
        self.in_flight = 0
        self.dead = False  # a send failed or it vanished mid-request: replace it
        self.retiring = False  # it neared its own CPU limit: replace it

    @classmethod
    def start(cls, python: str, key: LimitsKey, sandbox: str = "") -> ServerProcess:
        """Start a server that applies `key`'s limits to itself; wait for its "ready".

        Args:
            sandbox: a remediations.process.sandbox.Sandbox as JSON: the server isolates every
                script (and first checks that it can); "" for none.

        Raises:
            ServerStartError: it could not be executed, or it failed or hung at start-up
                (with a sandbox: also when isolation does not work here; the reason).
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        limits_arg = ",".join(f"{res}:{soft}:{hard}" for res, soft, hard in key)
        try:
            # -I -S: no site-packages, no environment; start_new_session: a terminal's
            # signals go to the scheduler, which then closes the control socket.
            proc = subprocess.Popen(
                [python, "-I", "-S", SERVER_PATH, str(theirs.fileno()), limits_arg, sandbox],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
                env={},
            )  # scripts get their env in each request; the server needs none
        except OSError as exc:
            ours.close()
            raise ServerStartError(f"cannot run {python}: {exc}") from None
        finally:
            theirs.close()
        server = cls(proc, ours, False)
        greeting = _recv(ours, READY_TIMEOUT_S)
        if not isinstance(greeting, tuple) or greeting[:1] != ("ready",):
            server.stop(timeout_s=0)
            if isinstance(greeting, tuple) and greeting[:1] == ("failed",):
                raise ServerStartError(str(greeting[1]))
            raise ServerStartError(
                f"spawn server pid={proc.pid} limits={limits_arg or 'none'} did not start: {greeting!r}"
            )
        server.subreaper = bool(greeting[1])
        return server

    def alive(self) -> bool:
        return self.proc.poll() is None

    def children(self) -> list[int]:
        fd = os.open(self._children_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return [int(pid) for pid in os.read(fd, 65536).split()]
        finally:
            os.close(fd)

    def retire(self) -> None:
        """Close the control socket: the server exits once its running scripts have."""
        self.control.close()

    def wait(self, *, timeout_s: float) -> bool:
        """Reap the server if it exits within timeout_s; True if it has."""
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """Retire the server and wait for it; kill it if it lingers."""
        self.retire()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def spawn(self, request: bytes) -> SpawnedChild | None:
        """Send one encoded request; the started child, or None if nothing was started
        (the server is dead or refused; `dead` tells which).

        Raises:
            RunnerError: the script could not be started (the reason), or the server
                vanished after receiving the request, so the script may have started.
        """
        reply, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        child = None
        try:
            try:
                socket.send_fds(self.control, [request], [in_r, out_w, theirs.fileno()])
            except OSError:  # EPIPE/ECONNRESET/EBADF: the server is gone, nothing was sent
                self.dead = True
                return None
            finally:
                for fd in (in_r, out_w):
                    os.close(fd)
                theirs.close()
            child = self._answer(reply, in_w, out_r)
            return child
        finally:
            if child is None:
                reply.close()
                for fd in (in_w, out_r):
                    os.close(fd)

    def _answer(self, reply: socket.socket, in_w: int, out_r: int) -> SpawnedChild | None:
        if not _readable(reply.fileno(), ANSWER_TIMEOUT_S):
            self.dead = True
            self.proc.kill()  # hung: stop it before it starts anything else
            raise RunnerError(
                f"spawn server pid={self.pid} did not answer in {ANSWER_TIMEOUT_S:g}s; the script may have started"
            )
        msg, fds, _, _ = socket.recv_fds(reply, 65536, 1)
        if not msg:
            self.dead = True
            raise RunnerError(
                f"spawn server pid={self.pid} exited while starting the script; the script may have started"
            )
        answer = marshal.loads(msg)
        if answer[0] == "started" and len(fds) == 1:
            self.retiring = bool(answer[2])
            return SpawnedChild(answer[1], in_w, out_r, fds[0], reply, self)
        for fd in fds:
            os.close(fd)
        if answer[0] == "refused":
            return None
        raise RunnerError(str(answer[1]))


class SpawnedChild:
    """A script a spawn server started; its exit status arrives on the reply socket."""

    wrapped = False

    def __init__(
        self, pid: int, stdin_fd: int, stdout_fd: int, pidfd: int, reply: socket.socket, server: ServerProcess
    ) -> None:
        self.pid, self.stdin_fd, self.stdout_fd = pid, stdin_fd, stdout_fd
        self.pidfd: int | None = pidfd
        self.reply, self.server = reply, server
        self._code: int | None = None

    def exited(self) -> bool:
        return self.pidfd is not None and _readable(self.pidfd, 0)

    def wait(self) -> int | None:
        """Block until the server reports the exit; None if it died first."""
        if self._code is None and self.reply.fileno() >= 0:
            message = _recv(self.reply, ANSWER_TIMEOUT_S)
            if isinstance(message, tuple) and message[0] == "exited":
                self._code = os.waitstatus_to_exitcode(message[1])
            self.reply.close()
        return self._code

    def may_have_leftovers(self) -> bool:
        """Read the server's children: as a subreaper it inherits whatever a script left.

        Every process of the session descends from the script, and an orphan is
        reparented to the nearest subreaper, the server, before the script's exit is
        visible through its pidfd. So if no child of the server but the script itself has
        the script's session id, nothing is left to kill and the /proc scan can be skipped.
        """
        if not self.server.subreaper:
            return True
        try:
            children = self.server.children()
        except (OSError, ValueError):
            return True
        if not self.server.alive():  # we may have read a dead server's empty list
            return True
        return any(_session_of(pid) == self.pid for pid in children if pid != self.pid)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        self.reply.close()


def _readable(fd: int, timeout_s: float) -> bool:
    # poll, not select: the scheduler may hold more than FD_SETSIZE (1024) descriptors.
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout_s * 1000))


def _recv(sock: socket.socket, timeout_s: float) -> Any:
    """One marshal message, or None on timeout or EOF."""
    try:
        if not _readable(sock.fileno(), timeout_s):
            return None
        msg = sock.recv(4096)
        return marshal.loads(msg) if msg else None
    except (OSError, ValueError, EOFError):
        return None


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None
