"""Start a script isolated from Vigil: own PID and mount namespaces, another uid, bounded writes.

Standard library only: the spawn server (remediations.process.spawn_server, run with `python -I -S`)
imports this file by path, so it must not import remediations or anything installed.

Each run (Jail.spawn) is a fork of the single-threaded spawn server that:
    * becomes PID 1 of a new PID namespace (the server re-enters its own namespace and
      unshares CLONE_NEWPID before every fork, so the child itself is the namespace's init).
      When it exits, or is killed at the timeout, the kernel kills every process left in the
      namespace, whatever session or process group they made: nothing outlives a run.
      Its host pid leads a new session, as before, so the runner finds and signals it.
    * gets a private mount namespace in which: each `hide` path is covered by an empty
      read-only tmpfs (a file by /dev/null), so data_dir (vigil.db, scripts) is not there;
      every other mount is read-only; the work dir is a fresh tmpfs of scratch_bytes,
      owned by the run user, also bound over /tmp, /var/tmp and /dev/shm, so all an
      execution can write is that one bounded tmpfs (and each file is capped by
      RLIMIT_FSIZE); /proc shows only the run's own processes.
    * copies the script into the work dir (data_dir, where it lives, is hidden; and the run
      user may not read the original), applies the rlimits, RLIMIT_NPROC = max_processes
      (counted per uid, hence the separate user), drops to uid:gid with no supplementary
      groups and no_new_privs (no setuid binary can give privileges back), and execs it.
A failure before exec is reported back through a close-on-exec pipe, as subprocess does.
Needs root (CAP_SYS_ADMIN and CAP_SETUID) on Linux >= 5.12 (mount_setattr).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
_SYS_MOUNT_SETATTR = 442  # the same number on every architecture (new syscall table)
_AT_FDCWD, _AT_RECURSIVE, _MOUNT_ATTR_RDONLY = -100, 0x8000, 1
_PR_SET_NO_NEW_PRIVS = 38
# Writable places besides the work dir: each becomes the run's own tmpfs (a bind of it).
SCRATCH_BINDS = ("/tmp", "/var/tmp", "/dev/shm")
SCRIPT_NAME = ".vigil-script"
CARRIED = "diagnosis.json"  # remediations.diagnosis_file.NAME: copied onto the run's tmpfs


@dataclass(frozen=True)
class Sandbox:
    """How runs are isolated; plain values, sent to the spawn server as JSON.

    Attributes:
        uid, gid: the user and group scripts run as (not Vigil's).
        hide: absolute paths made invisible to scripts (data_dir, config, secrets files).
        writable: absolute paths that stay writable (for scripts that clean or fix files
            there; the run user still needs the file permissions). Not under /tmp,
            /var/tmp or /dev/shm, which are the run's own tmpfs.
        scratch_bytes: size of the run's tmpfs (work dir, /tmp, /var/tmp, /dev/shm).
        max_processes: RLIMIT_NPROC of the run user (all its processes on the machine).
    """

    uid: int
    gid: int
    hide: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()
    scratch_bytes: int = 64 * 1024 * 1024
    max_processes: int = 256

    def encode(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def decode(cls, text: str) -> Sandbox:
        fields = json.loads(text)
        return cls(**{**fields, "hide": tuple(fields["hide"]), "writable": tuple(fields["writable"])})


class SandboxError(Exception):
    """A run (or the self-test) could not be isolated; the message says which step failed."""


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


class Jail:
    """The spawn server's side: starts each script as init of its own namespaces."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        # Our own PID namespace: re-entered before each unshare, which is refused once
        # the namespace for our children differs from our own.
        self.pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)

    def check(self) -> None:
        """Isolate a child that exits instead of exec'ing; SandboxError if any step fails."""
        workdir = tempfile.mkdtemp(prefix="vigil-jail-check-")
        try:
            pid = self.spawn(None, {}, workdir, [], None, None)
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SandboxError(f"isolation self-test exited with status {status}")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def spawn(
        self,
        argv: list[bytes] | None,
        env: Mapping[bytes, bytes],
        cwd: str,
        limits: Sequence[tuple[int, int, int]],
        stdin_fd: int | None,
        stdout_fd: int | None,
    ) -> int:
        """Fork the isolated child and wait until it has exec'd; return its (host) pid.

        Raises:
            SandboxError: a step before exec failed (the child has been reaped).
        """
        self._call(self.libc.setns(self.pidns, CLONE_NEWPID), "enter our pid namespace")
        self._call(self.libc.unshare(CLONE_NEWPID), "create a pid namespace")
        err_r, err_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover (runs in the child, which execs or _exits)
            os.close(err_r)
            try:
                self._child(argv, env, cwd, limits, stdin_fd, stdout_fd)
                os._exit(0)  # the self-test: every step worked
            except BaseException as exc:  # noqa: BLE001 (report anything, then exit)
                os.write(err_w, str(exc).encode("utf-8", "replace")[:4000])
            finally:
                os._exit(127)
        os.close(err_w)
        with open(err_r, "rb") as pipe:  # EOF once the child exec'd (the pipe is CLOEXEC)
            problem = pipe.read()
        if problem:
            os.waitpid(pid, 0)
            raise SandboxError(problem.decode("utf-8", "replace"))
        return pid

    def _child(
        self,
        argv: list[bytes] | None,
        env: Mapping[bytes, bytes],
        cwd: str,
        limits: Sequence[tuple[int, int, int]],
        stdin_fd: int | None,
        stdout_fd: int | None,
    ) -> None:
        sandbox = self.sandbox
        os.setsid()
        script = _read(argv[0]) if argv else b""
        carried = _read_optional(os.path.join(cwd, CARRIED))  # placed by Vigil; the tmpfs below hides it
        self._call(self.libc.unshare(CLONE_NEWNS), "create a mount namespace")
        self._mount(None, "/", None, MS_REC | MS_PRIVATE, None, "make mounts private")
        for path in sandbox.hide:
            self._hide(path)
        self._read_only("/", recursive=True)
        for path in sandbox.writable:
            self._mount(path, path, None, MS_BIND | MS_REC, None, f"bind {path}")
            self._read_only(path, recursive=True, clear=True)
        self._scratch(cwd)
        self._mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None, "mount /proc")
        copy = os.path.join(cwd, SCRIPT_NAME)
        if argv:
            _write_script(copy, script)
        if carried is not None:
            _write_script(os.path.join(cwd, CARRIED), carried, mode=0o444)
        for sig in signal.valid_signals():  # ignored signals would stay ignored across exec
            if sig not in (signal.SIGKILL, signal.SIGSTOP) and signal.getsignal(sig) == signal.SIG_IGN:
                signal.signal(sig, signal.SIG_DFL)
        for res, soft, hard in limits:
            resource.setrlimit(res, (soft, hard))
        resource.setrlimit(resource.RLIMIT_NPROC, (sandbox.max_processes,) * 2)
        if stdin_fd is not None and stdout_fd is not None:
            os.dup2(stdin_fd, 0)
            os.dup2(stdout_fd, 1)
            os.dup2(stdout_fd, 2)
        os.setgroups([])
        os.setresgid(sandbox.gid, sandbox.gid, sandbox.gid)
        os.setresuid(sandbox.uid, sandbox.uid, sandbox.uid)
        self._call(self.libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs")
        os.chdir(cwd)
        if argv:
            try:
                os.execve(copy, [copy.encode(), *argv[1:]], dict(env))
            except OSError as exc:
                raise SandboxError(f"cannot start {os.fsdecode(argv[0])}: {exc.strerror or exc}") from None

    def _scratch(self, cwd: str) -> None:
        """Mount the run's tmpfs on the work dir, and bind it over /tmp, /var/tmp, /dev/shm."""
        sandbox = self.sandbox
        self._mount(
            "vigil-run",
            cwd,
            "tmpfs",
            MS_NOSUID | MS_NODEV,
            f"size={sandbox.scratch_bytes},mode=0700,uid={sandbox.uid},gid={sandbox.gid}",
            "mount the work dir",
        )
        scratch = os.open(cwd, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        source = f"/proc/self/fd/{scratch}"
        covered = False
        for path in SCRATCH_BINDS:
            if os.path.isdir(path):
                self._mount(source, path, None, MS_BIND, None, f"bind the work dir over {path}")
                covered = covered or (cwd + "/").startswith(path + "/")
        if covered:  # the work dir's path now leads into the tmpfs itself: bind it there too
            os.makedirs(cwd, exist_ok=True)
            self._mount(source, cwd, None, MS_BIND, None, "bind the work dir back")
        os.close(scratch)

    def _hide(self, path: str) -> None:
        if os.path.isdir(path):
            self._mount(
                "vigil-hidden",
                path,
                "tmpfs",
                MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=4k,mode=000",
                f"hide {path}",
            )
        elif os.path.exists(path):
            self._mount("/dev/null", path, None, MS_BIND, None, f"hide {path}")

    def _read_only(self, path: str, *, recursive: bool, clear: bool = False) -> None:
        """Make the mounts at `path` read-only (or, with clear, writable again)."""
        attr = _MountAttr(0, _MOUNT_ATTR_RDONLY, 0, 0) if clear else _MountAttr(_MOUNT_ATTR_RDONLY, 0, 0, 0)
        result = self.libc.syscall(
            _SYS_MOUNT_SETATTR,
            _AT_FDCWD,
            os.fsencode(path),
            _AT_RECURSIVE if recursive else 0,
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        )
        self._call(int(result), f"make {path} {'writable' if clear else 'read-only'} (mount_setattr, Linux >= 5.12)")

    def _mount(
        self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None, what: str
    ) -> None:
        def raw(text: str | None) -> bytes | None:
            return None if text is None else os.fsencode(text)

        self._call(self.libc.mount(raw(source), raw(target), raw(fstype), flags, raw(data)), what)

    def _call(self, result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise SandboxError(f"cannot {what}: {os.strerror(errno)}")


def _read(path: bytes) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise SandboxError(f"cannot read {os.fsdecode(path)}: {exc.strerror or exc}") from None


def _read_optional(path: str) -> bytes | None:
    try:
        return _read(os.fsencode(path))
    except SandboxError:
        return None


def _write_script(path: str, script: bytes, mode: int = 0o555) -> None:
    # Owned by root, read+execute for all: the run user runs its copy but cannot change it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.write(fd, script)
    finally:
        os.close(fd)
