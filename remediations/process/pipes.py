"""One poll loop over a child's stdin, merged output and exit (a pidfd).

Reading output while writing stdin and waiting for exit in a single loop means the child
can never block on a full pipe, and the exit is noticed the moment it happens (a pidfd
becomes readable when the process exits) instead of by polling. select.poll rather than
selectors' epoll: for three descriptors it saves creating and tearing down an epoll
instance on every run.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable

from remediations.process.capture import BoundedOutput
from remediations.process.launch import Child

_READ_BYTES = 256 * 1024
_IN, _OUT = select.POLLOUT, select.POLLIN


class Pipes:
    """Feeds stdin, drains stdout into a BoundedOutput and watches for the child's exit."""

    def __init__(self, child: Child, payload: bytes, output: BoundedOutput) -> None:
        self.child, self.output = child, output
        self.poller = select.poll()
        self.out_fd: int | None = child.stdout_fd
        self.in_fd: int | None = child.stdin_fd
        self.payload = memoryview(payload)
        self.eof = False
        self.exited = False
        os.set_blocking(child.stdout_fd, False)
        os.set_blocking(child.stdin_fd, False)
        self.poller.register(child.stdout_fd, _OUT)
        self.poller.register(child.stdin_fd, _IN)
        if child.pidfd is not None:
            self.poller.register(child.pidfd, select.POLLIN)

    def wait_exit(self, *, deadline: float, linger_s: float, tick: Callable[[], float] | None = None) -> bool:
        """Pump until the child exits and its output ends, or until `deadline` (monotonic).

        After the exit, output is read for at most `linger_s` more: a grandchild may hold
        the pipe open forever. `tick`, called after each pump while the child runs, returns
        how many seconds it may wait before it wants to be called again.

        Returns:
            True if the child exited before the deadline.
        """
        polling = self.child.pidfd is None
        wait_s = float("inf")
        while not self._check_exit():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.pump(timeout=min(remaining, wait_s, 0.05 if polling else remaining))
            if tick is not None:
                wait_s = tick()
        end = min(deadline, time.monotonic() + linger_s)
        while not self.eof and time.monotonic() < end:
            self.pump(timeout=end - time.monotonic())
        return True

    def _check_exit(self) -> bool:
        if not self.exited and self.child.pidfd is None:
            self.exited = self.child.exited()
        return self.exited

    def pump(self, *, timeout: float) -> None:
        """Handle whatever is ready within `timeout` seconds."""
        for fd, _ in self.poller.poll(max(0.0, timeout) * 1000):
            # Dispatch on the fd, not the event: POLLHUP/POLLERR also mean "act now".
            if fd == self.out_fd:
                self._read()
            elif fd == self.in_fd:
                self._write()
            elif fd == self.child.pidfd:
                self.exited = True
                self.poller.unregister(fd)

    def _read(self) -> None:
        assert self.out_fd is not None  # only called for a registered out_fd
        try:
            chunk = os.read(self.out_fd, _READ_BYTES)
        except BlockingIOError:
            return
        if chunk:
            self.output.feed(chunk)
        elif not self.eof:
            self.eof = True
            self.poller.unregister(self.out_fd)

    def _write(self) -> None:
        assert self.in_fd is not None  # only called for a registered in_fd
        try:
            sent = os.write(self.in_fd, self.payload[:65536])
        except BlockingIOError:
            return
        except BrokenPipeError:  # the script exited or closed stdin without reading it all
            sent = len(self.payload)
        self.payload = self.payload[sent:]
        if not self.payload:
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self.in_fd is not None:
            self.poller.unregister(self.in_fd)
            os.close(self.in_fd)
            self.in_fd = None

    def drain(self) -> None:
        """Read what is already in the pipe without waiting (after the session is killed)."""
        while not self.eof and self.out_fd is not None:
            before = self.output.total
            self.pump(timeout=0)
            if self.output.total == before:
                break

    def close(self) -> None:
        """Drain, then close both pipes; never waits for EOF. The pidfd is the child's."""
        self.drain()
        self._close_stdin()
        if self.out_fd is not None:
            os.close(self.out_fd)
            self.out_fd = None
