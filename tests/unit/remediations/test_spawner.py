"""Spawn servers start real scripts with limits; when they die or cannot run, runs still work."""

from __future__ import annotations

import os
import signal
import time

import pytest
from remediation_helpers import alive, kill_quietly, read_pid, request

from remediations.backends import InlineBackend
from remediations.errors import RunnerError
from remediations.process import workdirs
from remediations.process.launch import PrlimitLauncher
from remediations.process.spawner import Spawner
from remediations.runner import run

LIMITS = {"cpu_s": 10, "memory_bytes": 512 * 1024 * 1024, "max_open_files": 128, "max_file_bytes": 8 * 1024 * 1024}


class CountingPrlimit(PrlimitLauncher):
    """The real fallback, counting how often it is used."""

    def __init__(self) -> None:
        self.launches = 0

    def launch(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.launches += 1
        return super().launch(*args, **kwargs)


@pytest.fixture
def fallback() -> CountingPrlimit:
    return CountingPrlimit()


@pytest.fixture
def own_spawner(fallback):
    launcher = Spawner(fallback=fallback, pool_size=2)
    yield launcher
    launcher.close()


def limits_script(script) -> str:
    return script('#!/bin/sh\necho "$(ulimit -n) $(ulimit -v) $(ulimit -t) $(ulimit -f)"\n')


def test_a_spawn_server_applies_every_limit_without_the_fallback(script, own_spawner, fallback):
    result = run(request(limits_script(script), **LIMITS), launcher=own_spawner)

    assert result.status == "succeeded"
    assert result.output == f"128 {512 * 1024} 10 {8 * 1024 * 1024 // 512}\n"
    assert fallback.launches == 0
    assert len(own_spawner.server_pids()) == 1


def test_each_limit_set_gets_its_own_server(script, own_spawner):
    path = limits_script(script)

    first = run(request(path, max_open_files=100), launcher=own_spawner)
    second = run(request(path, max_open_files=200), launcher=own_spawner)

    assert first.output.startswith("100 ") and second.output.startswith("200 ")
    assert len(own_spawner.server_pids()) == 2


def test_the_script_gets_default_signal_dispositions_and_no_stray_descriptors(script, own_spawner):
    path = script("#!/bin/sh\ngrep SigIgn /proc/self/status\nls /proc/self/fd\n")

    result = run(request(path, **LIMITS), launcher=own_spawner)

    # Python ignores SIGPIPE and SIGXFSZ, the server also SIGINT, nohup SIGHUP; scripts get
    # the defaults. (glibc's posix_spawn leaves its own two internal signals, 32 and 33, ignored.)
    ignored = int(result.output.splitlines()[0].split()[1], 16)
    assert ignored & ~(1 << 31 | 1 << 32) == 0
    assert sorted(result.output.split()[2:]) == ["0", "1", "2", "3"]  # 3: ls's own dir fd


def test_a_killed_server_is_replaced_on_the_next_run(script, own_spawner, fallback):
    path = script("#!/bin/sh\necho ok\n")
    run(request(path, **LIMITS), launcher=own_spawner)
    (old,) = own_spawner.server_pids()

    os.kill(old, signal.SIGKILL)
    while alive(old):  # a request sent while it is dying could be lost: an error, not this
        time.sleep(0.01)
    result = run(request(path, **LIMITS), launcher=own_spawner)

    assert result.status == "succeeded" and result.output == "ok\n"
    assert own_spawner.server_pids() != [old]
    assert fallback.launches == 0


def test_a_server_dying_mid_run_fails_the_run_and_its_session_is_still_killed(script, own_spawner, tmp_path):
    pidfile = tmp_path / "bg.pid"
    path = script(f"#!/bin/sh\nsleep 1000 >/dev/null 2>&1 &\necho $! > {pidfile}\necho started\nexec sleep 1000\n")
    killed: list[int] = []

    def kill_server(pid: int) -> None:
        killed.extend(own_spawner.server_pids())
        os.kill(killed[0], signal.SIGKILL)

    result = run(request(path, timeout_s=1, kill_grace_s=0.2, **LIMITS), launcher=own_spawner, on_start=kill_server)

    leftover = read_pid(pidfile)
    try:
        assert result.status == "timed_out"
        assert result.exit_code is None
        assert "exit status unknown: the spawn server exited" in result.output
        assert not alive(leftover) and not alive(result.pid)
    finally:
        kill_quietly(leftover)
    assert run(request(script("#!/bin/sh\n"), **LIMITS), launcher=own_spawner).status == "succeeded"


def test_when_no_server_can_start_runs_fall_back_to_prlimit_with_the_same_limits(script, fallback):
    broken = Spawner(fallback=fallback, python="/nonexistent/python3")
    try:
        result = run(request(limits_script(script), **LIMITS), launcher=broken)
    finally:
        broken.close()

    assert result.status == "succeeded"
    assert result.output.startswith("128 ")
    assert fallback.launches == 1


def test_limits_too_small_for_a_server_use_the_fallback(script, own_spawner, fallback):
    result = run(request(limits_script(script), memory_bytes=32 * 1024 * 1024), launcher=own_spawner)

    assert result.output.split()[1] == str(32 * 1024)
    assert fallback.launches == 1 and own_spawner.server_pids() == []


def test_a_request_too_large_for_the_socket_uses_the_fallback(script, own_spawner, fallback):
    env = {f"BIG_{i}": "x" * 30_000 for i in range(10)}
    path = script('#!/bin/sh\nprintf %s "$BIG_9" | wc -c\n')

    result = run(request(path, env=env, **LIMITS), launcher=own_spawner)

    assert result.output.strip() == "30000"
    assert fallback.launches == 1


def test_an_exec_failure_in_the_server_is_reported_with_its_reason(tmp_path, own_spawner):
    # The runner checks scripts first; this is the race where one vanishes in between.
    with pytest.raises(RunnerError, match="cannot start /nonexistent/script: No such file"):
        own_spawner.launch(["/nonexistent/script"], env={}, cwd=str(tmp_path), limits={})


def test_a_clean_exit_proves_no_leftovers_and_a_background_process_does_not(script, own_spawner, tmp_path):
    pidfile = tmp_path / "bg.pid"
    clean = own_spawner.launch([script("#!/bin/sh\n")], env={}, cwd=str(tmp_path), limits={})
    messy = own_spawner.launch(
        [script(f"#!/bin/sh\nsleep 30 </dev/null >/dev/null 2>&1 &\necho $! > {pidfile}\n")],
        env={},
        cwd=str(tmp_path),
        limits={},
    )
    leftover = read_pid(pidfile)
    try:
        for child in (clean, messy):
            assert child.wait() == 0
        assert clean.may_have_leftovers() is False
        assert messy.may_have_leftovers() is True
    finally:
        kill_quietly(leftover)
        for child in (clean, messy):
            for fd in (child.stdin_fd, child.stdout_fd):
                os.close(fd)
            child.close()


def test_concurrent_runs_grow_the_pool_up_to_its_size(script, own_spawner):
    path = script("#!/bin/sh\nsleep 0.3\n")
    backend = InlineBackend(max_workers=4, launcher=own_spawner)

    futures = [backend.submit(request(path, **LIMITS)) for _ in range(8)]
    statuses = [f.result(timeout=20).status for f in futures]
    backend.shutdown()

    assert statuses == ["succeeded"] * 8
    # pool_size servers for these limits, and the no-limits one the backend started.
    assert len(own_spawner.server_pids()) == 2 + 1


def test_the_inline_backend_puts_work_dirs_on_a_roomy_tmpfs_by_default(script):
    root = workdirs.fast_root()
    if root is None:
        pytest.skip("no roomy tmpfs on this machine")
    backend = InlineBackend(max_workers=1)

    result = backend.submit(request(script("#!/bin/sh\npwd\n"))).result(timeout=10)
    backend.shutdown()

    assert result.output.startswith(f"{root}/vigil-run-")


def test_a_server_out_of_spare_descriptors_refuses_and_the_fallback_runs_it(script, fallback):
    # RLIMIT_NOFILE=64 also binds the server: 16 descriptors of its own plus 2 per
    # running script leaves room for 24 scripts; the rest must go through prlimit.
    single = Spawner(fallback=fallback, pool_size=1)
    backend = InlineBackend(max_workers=30, launcher=single)
    path = script("#!/bin/sh\nsleep 0.5\n")
    try:
        futures = [backend.submit(request(path, max_open_files=64)) for _ in range(30)]
        assert [f.result(timeout=30).status for f in futures] == ["succeeded"] * 30
    finally:
        backend.shutdown()
        single.close()
    assert 1 <= fallback.launches <= 6


def test_a_server_nearing_its_own_cpu_limit_is_replaced_before_it_is_killed(own_spawner, fallback):
    # cpu_s=1 binds the server too; past half a second of its own CPU (~1,500 starts)
    # it asks to be retired and the next run gets a fresh one. No run may fail meanwhile.
    req = request("/bin/true", cpu_s=1)
    run(req, launcher=own_spawner)
    first = own_spawner.server_pids()
    deadline = time.monotonic() + 60

    while own_spawner.server_pids() == first and time.monotonic() < deadline:
        assert run(req, launcher=own_spawner).status == "succeeded"

    assert run(req, launcher=own_spawner).status == "succeeded"
    assert own_spawner.server_pids() not in ([], first)
    assert fallback.launches == 0
