"""The scheduler supervisor's restart schedule, with real child processes and a fake clock."""

from __future__ import annotations

import sys

from app.server import SchedulerSupervisor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def died(supervisor: SchedulerSupervisor) -> None:
    """Let the real child finish, then let the supervisor notice."""
    assert supervisor.proc is not None
    supervisor.proc.wait(timeout=60)
    supervisor.check()


def restart_delays(supervisor: SchedulerSupervisor, clock: Clock, n: int, *, up_s: float = 0) -> list[float]:
    delays = []
    for _ in range(n):
        clock.now += up_s
        died(supervisor)
        assert supervisor.restart_at is not None
        delays.append(supervisor.restart_at - clock.now)
        pid = supervisor.proc.pid if supervisor.proc else None
        clock.now = supervisor.restart_at - 0.01
        supervisor.check()
        assert supervisor.proc is not None and supervisor.proc.pid == pid, "not before its time"
        clock.now = supervisor.restart_at
        supervisor.check()
        assert supervisor.proc.pid != pid, "restarted"
    return delays


def test_a_child_that_keeps_dying_is_restarted_after_1_s_doubling_to_30_s() -> None:
    clock = Clock()
    supervisor = SchedulerSupervisor([sys.executable, "-c", "pass"], clock=clock)
    supervisor.start()
    assert restart_delays(supervisor, clock, 7) == [1, 2, 4, 8, 16, 30, 30]
    assert supervisor.restarts == 7
    supervisor.stop()


def test_the_delay_is_back_to_1_s_once_a_child_stayed_up_a_minute() -> None:
    clock = Clock()
    supervisor = SchedulerSupervisor([sys.executable, "-c", "pass"], clock=clock)
    supervisor.start()
    assert restart_delays(supervisor, clock, 3) == [1, 2, 4]
    assert restart_delays(supervisor, clock, 2, up_s=60) == [1, 1]
    supervisor.stop()


def test_a_stopped_supervisor_restarts_nothing() -> None:
    supervisor = SchedulerSupervisor([sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor.start()
    supervisor.stop()
    assert supervisor.proc is not None and supervisor.proc.poll() is not None
    supervisor.check()
    assert supervisor.restart_at is None and supervisor.restarts == 0
