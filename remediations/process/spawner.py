"""The default Launcher: scripts are started by pools of spawn servers.

A spawn server (remediations.process.spawn_server) is a single-threaded helper process that has
applied one set of resource limits to itself and starts scripts with posix_spawn, so they
inherit them; see there for why. A server is blocked while the kernel execs a script
(vfork), which under CPU contention takes milliseconds, so one server per limit set would
serialise every start: a Spawner keeps a pool per limit set instead, grown in the
background up to pool_size while requests find every server busy, and at most
max_servers servers in all (whole pools retired least recently used first).

Runs go through the fallback launcher (prlimit) when a server cannot start (retried after
retry_after_s), when the limits would starve the server itself (tiny memory or descriptor
limits), when a request is too large, or when a server refuses one.

With a Sandbox, every script is isolated (remediations.process.sandbox): there is one pool, the
limits travel with each request (the isolated child applies them), and the fallback
refuses to run anything: an execution that cannot be isolated does not run. A dead server is
replaced on the next launch. A run whose request was sent but never answered is an error,
not retried: the script may have started, and a remediation must not run twice.
"""

from __future__ import annotations

import logging
import marshal
import os
import resource
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

from remediations.errors import RunnerError
from remediations.process.launch import Child, Launcher, Limits, PrlimitLauncher
from remediations.process.sandbox import Sandbox
from remediations.process.spawn_client import MAX_REQUEST_BYTES, LimitsKey, ServerProcess, ServerStartError

log = logging.getLogger(__name__)

_FS_ENCODING = sys.getfilesystemencoding()
# Below these a server could not live under the limits it applies to itself.
MIN_SERVER_MEMORY_BYTES = 64 * 1024 * 1024
MIN_SERVER_OPEN_FILES = 64


class Spawner:
    """A Launcher backed by spawn servers, falling back to `fallback` when they cannot run."""

    def __init__(
        self,
        *,
        fallback: Launcher | None = None,
        python: str = sys.executable,
        pool_size: int = 4,
        max_servers: int = 16,
        retry_after_s: float = 10.0,
        sandbox: Sandbox | None = None,
    ) -> None:
        if not 1 <= pool_size <= max_servers:
            raise ValueError(f"need 1 <= pool_size <= max_servers, got {pool_size} and {max_servers}")
        self.sandbox = sandbox
        self._sandbox_arg = sandbox.encode() if sandbox is not None else ""
        if fallback is None:
            fallback = (
                PrlimitLauncher() if sandbox is None else RefusingLauncher("the isolated spawn server is unavailable")
            )
        self.fallback = fallback
        self.python, self.retry_after_s = python, retry_after_s
        self.pool_size, self.max_servers = pool_size, max_servers
        self._lock = threading.Lock()
        self._pools: OrderedDict[LimitsKey, list[ServerProcess]] = OrderedDict()
        self._growing: set[LimitsKey] = set()  # a server is being started in the background
        self._retired: list[ServerProcess] = []
        self._failed_at: dict[LimitsKey, float] = {}
        self._last_failure: str | None = None
        self._owner_pid = os.getpid()

    def start(self) -> None:
        """Start the no-limits server now; other limit sets start on first use."""
        self.check()

    def check(self) -> str | None:
        """Start the no-limits server now; None if it runs, else why it cannot."""
        server = self._checkout(())
        if server is None:
            return self._last_failure or "the spawn server did not start"
        self._checkin((), server)
        return None

    def close(self, *, timeout_s: float = 5.0) -> None:
        """Retire every server and reap those that exit within timeout_s.

        A server still running scripts then is left to exit when they end (it reports
        nothing more, but keeps reaping); it is not killed, which would orphan them.
        """
        with self._lock:
            servers = [s for pool in self._pools.values() for s in pool] + self._retired
            self._pools.clear()
            self._retired = []
        if self._owner_pid != os.getpid():
            return
        for server in servers:
            server.retire()
        deadline = time.monotonic() + timeout_s
        for server in servers:
            server.wait(timeout_s=max(0.0, deadline - time.monotonic()))

    def server_pids(self) -> list[int]:
        """Pids of the servers in use (for tests and diagnostics)."""
        with self._lock:
            return [s.pid for pool in self._pools.values() for s in pool]

    def launch(self, argv: list[str], *, env: Mapping[str, str], cwd: str, limits: Limits) -> Child:
        """Start argv through a spawn server (or the fallback); see Launcher.launch.

        Raises:
            RunnerError: the script cannot be started, or a server died before saying
                whether it did.
        """
        key: LimitsKey = tuple(sorted((res, soft, hard) for res, (soft, hard) in limits.items()))
        fs, errors = _FS_ENCODING, "surrogateescape"  # os.fsencode, minus its per-call checks
        fields = (
            [arg.encode(fs, errors) for arg in argv],
            {k.encode(fs, errors): v.encode(fs, errors) for k, v in env.items()},
            cwd.encode(fs, errors),
        )
        if self.sandbox is not None:  # one pool; the isolated child applies the limits
            request, key = marshal.dumps((*fields, list(key))), ()
        else:
            request = marshal.dumps(fields)
        if (self.sandbox is not None or _server_can_live_under(limits)) and len(request) <= MAX_REQUEST_BYTES:
            for _ in range(2):  # a server found dead (or refusing) is tried once more
                server = self._checkout(key)
                if server is None:
                    break
                try:
                    child = server.spawn(request)
                finally:
                    self._checkin(key, server)
                if child is not None:
                    return child
        return self.fallback.launch(argv, env=env, cwd=cwd, limits=limits)

    def _checkout(self, key: LimitsKey) -> ServerProcess | None:
        """The least busy server for `key` (None while none can start); counts it busy."""
        with self._lock:
            if self._owner_pid != os.getpid():  # forked: those servers serve our parent
                self._pools.clear()
                self._retired, self._growing, self._owner_pid = [], set(), os.getpid()
            pool = self._pools.get(key)
            if not pool:
                failed_at = self._failed_at.get(key)
                if failed_at is not None and time.monotonic() - failed_at < self.retry_after_s:
                    return None
                # Under the lock: a first start per limit set (~30 ms) is rare.
                server = self._start_server(key)
                if server is None:
                    return None
                pool = self._pools[key] = [server]
                self._evict(keep=key)
            self._pools.move_to_end(key)
            server = min(pool, key=lambda s: s.in_flight)
            if server.in_flight and len(pool) < self.pool_size and key not in self._growing:
                self._growing.add(key)
                threading.Thread(target=self._grow, args=(key,), daemon=True, name="vigil-spawn-grow").start()
            server.in_flight += 1
            return server

    def _checkin(self, key: LimitsKey, server: ServerProcess) -> None:
        with self._lock:
            server.in_flight -= 1
            if not (server.dead or server.retiring):
                return
            pool = self._pools.get(key, [])
            if server in pool:
                pool.remove(server)
            self._retired.append(server)
        if server.dead:
            log.warning("spawn server died; starting another on the next run", extra={"server_pid": server.pid})
        server.retire()  # a retiring server exits once its scripts have

    def _grow(self, key: LimitsKey) -> None:
        server = self._start_server(key)
        with self._lock:
            self._growing.discard(key)
            pool = self._pools.get(key)
            if server is None:
                return
            if pool is not None and len(pool) < self.pool_size and server.owner_pid == os.getpid():
                pool.append(server)
                self._evict(keep=key)
                return
        server.stop()

    def _start_server(self, key: LimitsKey) -> ServerProcess | None:
        try:
            server = ServerProcess.start(self.python, key, self._sandbox_arg)
        except ServerStartError as exc:
            log.warning(
                "spawn server could not start; using the fallback",
                extra={
                    "error": str(exc),
                    "fallback": type(self.fallback).__name__,
                    "limits": str(key),
                    "retry_after_s": self.retry_after_s,
                },
            )
            self._failed_at[key] = time.monotonic()
            self._last_failure = str(exc)
            return None
        self._failed_at.pop(key, None)
        self._last_failure = None
        return server

    def _evict(self, *, keep: LimitsKey) -> None:
        """Retire least recently used pools beyond max_servers; forget exited servers."""
        self._retired = [s for s in self._retired if s.alive()]
        while sum(len(pool) for pool in self._pools.values()) > self.max_servers:
            oldest = next(k for k in self._pools if k != keep)
            for server in self._pools.pop(oldest):
                server.retire()
                self._retired.append(server)


class RefusingLauncher:
    """Starts nothing: scripts must not run here (they could not be isolated)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def start(self) -> None:
        pass

    def launch(self, argv: list[str], *, env: Mapping[str, str], cwd: str, limits: Limits) -> Child:
        """Always raises RunnerError with the reason."""
        raise RunnerError(f"refused to run {argv[0]}: {self.reason}")


def _server_can_live_under(limits: Limits) -> bool:
    memory = limits.get(resource.RLIMIT_AS, (None, None))[1]
    files = limits.get(resource.RLIMIT_NOFILE, (None, None))[1]
    return (memory is None or memory >= MIN_SERVER_MEMORY_BYTES) and (files is None or files >= MIN_SERVER_OPEN_FILES)
