"""The runner starts real scripts from tmp_path: exit codes, bounded output, limits, killing."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from remediation_helpers import PYTHON, alive, kill_quietly, read_pid, request

from remediations import runner
from remediations.process.launch import Launcher, PrlimitLauncher
from remediations.runner import run


@pytest.fixture(autouse=True, params=["spawner", "prlimit"])
def launcher(request, spawner, monkeypatch) -> Launcher:
    """Every test here runs once per launcher: the default spawn servers and the fallback."""
    chosen: Launcher = spawner if request.param == "spawner" else PrlimitLauncher()
    monkeypatch.setattr(runner, "default_launcher", lambda: chosen)
    return chosen


def test_it_succeeds_on_exit_0_and_keeps_the_output(script):
    path = script("#!/bin/sh\necho all good\n")

    result = run(request(path))

    assert result.status == "succeeded"
    assert result.exit_code == 0
    assert result.output == "all good\n"
    assert not result.truncated
    assert result.pid and result.duration_s < 5
    assert result.started_at <= result.finished_at and result.started_at.tzinfo is not None


def test_it_fails_on_a_non_zero_exit_and_keeps_stdout_and_stderr(script):
    path = script("#!/bin/sh\necho trying\necho 'disk full' >&2\nexit 3\n")

    result = run(request(path))

    assert result.status == "failed"
    assert result.exit_code == 3
    assert result.output == "trying\ndisk full\n"


def test_it_bounds_a_50_mb_output_flood_and_marks_the_truncation(script):
    path = script("#!/bin/sh\necho first line\nyes | head -c 50000000\necho last line\n")

    started = time.monotonic()
    result = run(request(path, max_output_bytes=64 * 1024))

    assert time.monotonic() - started < 10
    assert result.status == "succeeded"
    assert result.truncated
    assert len(result.output) < 64 * 1024 + 200
    assert result.output.startswith("first line\ny\n")
    assert result.output.endswith("y\nlast line\n")
    assert "[... output truncated by vigil: " in result.output
    dropped = 50_000_000 + len("first line\nlast line\n") - 64 * 1024
    assert f"truncated by vigil: {dropped} bytes dropped ...]" in result.output


def test_stdin_carries_params_alert_and_execution_id_as_json(script):
    path = script("#!/bin/sh\nexec cat\n")
    alert = {"fingerprint": "abc", "labels": {"instance": "web-1"}, "value": 97.5}

    result = run(request(path, execution_id=42, params={"unit": "nginx", "n": [1, 2]}, alert=alert))

    assert json.loads(result.output) == {"params": {"unit": "nginx", "n": [1, 2]}, "alert": alert, "execution_id": 42}


def test_a_large_stdin_document_does_not_deadlock_a_script_that_reads_late(script):
    path = script("#!/bin/sh\nyes | head -c 300000\nexec wc -c\n")
    params = {"blob": "x" * 500_000}

    result = run(request(path, params=params, max_output_bytes=16))

    assert result.status == "succeeded"
    assert result.output.rstrip().endswith(
        str(len(json.dumps({"alert": None, "execution_id": 1, "params": params}, sort_keys=True)) + 1)
    )


def test_the_parent_environment_does_not_leak_into_the_script(script, monkeypatch):
    monkeypatch.setenv("VIGIL_SECRET_X", "hunter2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter3")
    path = script("#!/bin/sh\nenv\n")

    result = run(
        request(
            path,
            env={"ALLOWED_TOKEN": "t0k"},
            params={"unit": "nginx"},
            alert={"fingerprint": "fp1", "severity": "critical", "labels": {"job": "api"}},
        )
    )

    env = dict(line.split("=", 1) for line in result.output.splitlines())
    assert "hunter2" not in result.output and "hunter3" not in result.output
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["LANG"] == "C.UTF-8"
    assert env["ALLOWED_TOKEN"] == "t0k"
    assert env["VIGIL_EXECUTION_ID"] == "1"
    assert env["VIGIL_PARAM_UNIT"] == "nginx"
    assert env["VIGIL_ALERT_FINGERPRINT"] == "fp1"
    assert env["VIGIL_ALERT_SEVERITY"] == "critical"
    assert json.loads(env["VIGIL_ALERT_LABELS"]) == {"job": "api"}
    assert env["HOME"] == env["PWD"] == env["TMPDIR"]
    assert set(env) <= {
        "PATH",
        "LANG",
        "HOME",
        "TMPDIR",
        "PWD",
        "SHLVL",
        "_",
        "ALLOWED_TOKEN",
        "VIGIL_EXECUTION_ID",
        "VIGIL_PARAM_UNIT",
        "VIGIL_ALERT_FINGERPRINT",
        "VIGIL_ALERT_SEVERITY",
        "VIGIL_ALERT_LABELS",
    }


def test_the_script_cannot_override_vigil_variables_through_allowed_env(script):
    path = script("#!/bin/sh\necho $VIGIL_EXECUTION_ID\n")

    result = run(request(path, execution_id=7, env={"VIGIL_EXECUTION_ID": "999"}))

    assert result.output == "7\n"


def test_it_runs_in_a_fresh_work_dir_that_is_removed_afterwards(script):
    path = script("#!/bin/sh\npwd\ntouch leftover\n")

    result = run(request(path))

    workdir = result.output.strip()
    assert workdir.startswith("/") and "vigil-run-" in workdir
    assert not os.path.exists(workdir)


def test_a_timeout_kills_the_script_and_a_double_forked_grandchild(script, tmp_path):
    pidfile = tmp_path / "daemon.pid"
    # The grandchild double-forks, leaves the process group (as shell job control does)
    # and closes its output like a daemon: only the session id still ties it to the run.
    path = script(f"""\
        #!{PYTHON}
        import os, sys, time
        if os.fork() == 0:
            if os.fork() == 0:
                os.setpgid(0, 0)
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                with open({str(pidfile)!r}, "w") as f:
                    f.write(str(os.getpid()))
                while True:
                    time.sleep(1)
            os._exit(0)
        print("waiting", flush=True)
        time.sleep(1000)
        """)

    started = time.monotonic()
    result = run(request(path, timeout_s=1.5, kill_grace_s=0.5))
    elapsed = time.monotonic() - started

    daemon = read_pid(pidfile)
    try:
        assert result.status == "timed_out"
        assert result.output.startswith("waiting\n")
        assert "[vigil: timed out after 1.5s; killed 2 process(es) of its session]" in result.output
        assert elapsed < 1.5 + 0.5 + 2
        assert not alive(daemon)
        assert not alive(result.pid)
    finally:
        kill_quietly(daemon)


def test_a_script_ignoring_sigterm_is_killed_after_the_grace_period(script):
    path = script("#!/bin/sh\ntrap '' TERM\necho stubborn\nwhile :; do sleep 0.1; done\n")

    started = time.monotonic()
    result = run(request(path, timeout_s=0.5, kill_grace_s=0.5))

    assert result.status == "timed_out"
    assert result.exit_code == -9
    assert 1.0 <= time.monotonic() - started < 4
    assert result.output.startswith("stubborn\n")


def test_a_process_left_in_the_session_is_killed_when_the_script_exits(script, tmp_path):
    pidfile = tmp_path / "bg.pid"
    path = script(f"#!/bin/sh\nsleep 1000 >/dev/null 2>&1 &\necho $! > {pidfile}\necho done\n")

    result = run(request(path))

    leftover = read_pid(pidfile)
    try:
        assert result.status == "succeeded"
        assert "killed 1 leftover process(es)" in result.output
        assert not alive(leftover)
    finally:
        kill_quietly(leftover)


def test_a_grandchild_that_escapes_the_session_and_holds_the_pipe_does_not_hang_the_run(script, tmp_path):
    pidfile = tmp_path / "escaped.pid"
    path = script(f"""\
        #!{PYTHON}
        import os, time
        if os.fork() == 0:
            os.setsid()
            with open({str(pidfile)!r}, "w") as f:
                f.write(str(os.getpid()))
            time.sleep(30)
            os._exit(0)
        print("parent done", flush=True)
        """)

    started = time.monotonic()
    result = run(request(path, timeout_s=20))

    kill_quietly(read_pid(pidfile))
    assert result.status == "succeeded"
    assert result.output.startswith("parent done\n")
    assert time.monotonic() - started < 3


def test_a_memory_limit_makes_a_1_gb_allocation_fail(script):
    path = script(f"#!{PYTHON}\nblock = bytearray(1 << 30)\nprint('allocated')\n")

    result = run(request(path, memory_bytes=200 * 1024 * 1024))

    assert result.status == "failed"
    assert "MemoryError" in result.output
    assert "allocated" not in result.output


def test_a_file_size_limit_stops_a_large_write(script, tmp_path):
    target = tmp_path / "big.bin"
    path = script(f"#!/bin/sh\nhead -c 5000000 /dev/zero > {target}\n")

    result = run(request(path, max_file_bytes=1024 * 1024))

    assert result.status == "failed"
    assert target.stat().st_size <= 1024 * 1024


def test_a_cpu_limit_stops_a_busy_loop(script):
    path = script(f"#!{PYTHON}\nwhile True:\n    pass\n")

    result = run(request(path, cpu_s=1, timeout_s=20))

    assert result.status == "failed"
    assert result.exit_code in (-24, -9)  # SIGXCPU at the soft limit, SIGKILL at the hard one
    assert "[vigil: script killed by SIG" in result.output


def test_the_open_files_limit_applies(script):
    path = script("#!/bin/sh\nulimit -n\n")

    assert run(request(path, max_open_files=64)).output == "64\n"


def test_on_start_receives_the_pid_of_the_running_script(script):
    path = script("#!/bin/sh\necho $$\n")
    seen: list[int] = []

    result = run(request(path), on_start=seen.append)

    assert seen == [result.pid] == [int(result.output)]


def test_when_on_start_raises_the_script_is_killed_and_the_error_propagates(script):
    path = script("#!/bin/sh\nexec sleep 1000\n")
    started_pids: list[int] = []

    def fail(pid: int) -> None:
        started_pids.append(pid)
        raise RuntimeError("database is down")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="database is down"):
        run(request(path), on_start=fail)

    assert time.monotonic() - started < 5
    assert not alive(started_pids[0])


@pytest.mark.parametrize("limits", [{}, {"max_open_files": None}], ids=["prlimit", "direct"])
@pytest.mark.parametrize(
    "content, mode, reason",
    [
        (None, 0o755, "No such file"),
        ("#!/bin/sh\necho hi\n", 0o644, "is not executable"),
        ("echo no shebang\n", 0o755, "has no #! line"),
        ("#!/no/such/interpreter\n", 0o755, "interpreter '/no/such/interpreter' not found"),
    ],
    ids=["missing", "not-executable", "no-shebang", "bad-interpreter"],
)
def test_a_script_that_cannot_start_is_an_error_with_a_reason(tmp_path, limits, content, mode, reason):
    path = tmp_path / "broken"
    if content is not None:
        path.write_text(content)
        path.chmod(mode)

    result = run(request(str(path), **limits))

    assert result.status == "error"
    assert result.exit_code is None and result.pid is None
    assert reason in result.output


@pytest.mark.parametrize("limits", [{}, {"max_open_files": None}], ids=["prlimit", "direct"])
def test_an_interpreter_the_kernel_cannot_execute_is_an_error(limits, script, tmp_path):
    # Absolute and executable, yet exec would fail with ENOEXEC, and prlimit's execvp
    # would then hand the script to /bin/sh: the runner must refuse it first.
    script("just text, no shebang\n", name="fake-interpreter")
    path = script(f"#!{tmp_path}/fake-interpreter\n")

    result = run(request(path, **limits))

    assert result.status == "error"
    assert "is not an executable program" in result.output


def test_invalid_utf8_output_is_replaced_not_fatal(script):
    path = script("#!/bin/sh\nprintf 'ok \\377\\376 end\\n'\n")

    result = run(request(path))

    assert result.status == "succeeded"
    assert result.output == "ok \ufffd\ufffd end\n"


def test_a_script_killed_by_a_signal_fails_with_a_note(script):
    path = script("#!/bin/sh\nkill -KILL $$\n")

    result = run(request(path, max_open_files=None))

    assert result.status == "failed"
    assert result.exit_code == -9
    assert "[vigil: script killed by SIGKILL]" in result.output


def test_the_work_dir_can_live_under_a_chosen_root(script, tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    path = script("#!/bin/sh\npwd\n")

    result = run(request(path, workdir_root=str(root)))

    assert result.output.startswith(f"{root}/vigil-run-")
    assert list(root.iterdir()) == []


def test_the_workdir_is_also_removed_after_a_timeout(script, tmp_path):
    marker = tmp_path / "cwd"
    path = script(f"#!/bin/sh\npwd > {marker}\nsleep 100\n")

    run(request(path, timeout_s=0.5, kill_grace_s=0.2))

    assert not Path(marker.read_text().strip()).exists()


@pytest.mark.parametrize("field, value", [("timeout_s", 0), ("max_output_bytes", -1), ("kill_grace_s", -1)])
def test_a_request_that_would_run_unbounded_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        request("/bin/true", **{field: value})
