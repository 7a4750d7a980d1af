"""Find and signal every process of a Unix session, including double-forked grandchildren.

A script runs as the leader of a new session (start_new_session=True), so its session id is
its pid. Children that leave the process group (setpgid, shell job control) or whose parent
exited (double fork) keep the session id unless they call setsid() themselves; scanning
/proc for that id finds them. A process that calls setsid() escapes the scan; isolated runs
(remediations.process.sandbox) still end it, since the script is its PID namespace's init and the
kernel kills the whole namespace when the init dies.
"""

from __future__ import annotations

import os
import signal


def session_pids(sid: int) -> list[int]:
    """Pids of the processes (zombies included) whose session id is `sid`."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            # getsid is ~20x cheaper than reading /proc/<pid>/stat for every process.
            if os.getsid(int(name)) == sid:
                pids.append(int(name))
        except OSError:
            continue
    return pids


def is_zombie(pid: int) -> bool:
    """True when the process has exited (or vanished) and only waits to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return True
    # comm (field 2) may contain spaces and parentheses; the state follows the last ")".
    return data[data.rindex(b")") + 2 :][:1] in (b"Z", b"X")


def live_session_pids(sid: int, *, exclude: int | None = None) -> list[int]:
    """Pids in session `sid` that are still running (not zombies), except `exclude`."""
    return [pid for pid in session_pids(sid) if pid != exclude and not is_zombie(pid)]


def signal_pid_in_session(pid: int, sid: int, signum: int) -> bool:
    """Send `signum` to `pid` only if it is still a member of session `sid`.

    Opening a pidfd first and checking the session afterwards closes the pid-reuse race:
    if `pid` was recycled by an unrelated process, either the check fails or the pidfd
    points at the dead original and the signal goes nowhere.

    Returns:
        True if the signal was delivered.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        if os.getsid(pid) != sid:
            return False
        signal.pidfd_send_signal(pidfd, signum)
        return True
    except OSError:
        return False
    finally:
        os.close(pidfd)


def signal_session(sid: int, signum: int, *, exclude: int | None = None) -> set[int]:
    """Send `signum` to every live process of session `sid`; return the pids signalled."""
    return {pid for pid in live_session_pids(sid, exclude=exclude) if signal_pid_in_session(pid, sid, signum)}
