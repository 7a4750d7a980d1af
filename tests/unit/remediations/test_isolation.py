"""Scripts run isolated from Vigil: each attack a script made on the old runner now fails.

The test process stands in for Vigil (a secret in its environment, a data_dir holding
vigil.db); scripts run through a Spawner with a Sandbox, as the scheduler's do.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from remediation_helpers import request

from remediations.builtin import builtin_path
from remediations.errors import RunnerError
from remediations.process import isolation
from remediations.process.sandbox import Sandbox
from remediations.process.spawner import Spawner
from remediations.runner import run

SECRET = "vigil-test-secret-4f1c9a"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "vigil.db").write_bytes(b"SQLite format 3\x00" + b"admin-token-hash" * 8)
    (data / "vigil.db").chmod(0o644)  # world-readable, as SQLite creates it under umask 022
    return data


@pytest.fixture
def jail(data_dir: Path) -> Iterator[Spawner]:
    box = isolation.sandbox(run_as="nobody", hide=[str(data_dir)], scratch_bytes=4 << 20, max_processes=64)
    launcher = Spawner(sandbox=box, pool_size=1)
    assert launcher.check() is None  # isolation must work on this machine (root, Linux)
    yield launcher
    launcher.close()


def processes_with(token: str) -> list[int]:
    """Host pids whose command line holds `token` (zombies have none, so they don't count)."""
    found = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                if token.encode() in cmdline.read():
                    found.append(int(name))
        except (OSError, ValueError):
            continue
    return found


def test_it_runs_scripts_as_another_user_with_their_params_and_exit_code(script, jail):
    path = script('#!/bin/sh\nid -u\ncat\necho "$VIGIL_PARAM_TARGET"\nexit 3\n')

    result = run(request(path, params={"target": "web-1"}), launcher=jail)

    assert (result.status, result.exit_code) == ("failed", 3)
    uid, stdin, param = result.output.splitlines()[:3]
    assert uid == "65534" and '"target": "web-1"' in stdin and param == "web-1"


@pytest.fixture
def vigil() -> Iterator[subprocess.Popen[bytes]]:
    """A process standing in for Vigil, started with a secret in its environment.

    (/proc/<pid>/environ shows a process's initial environment, so putenv in this test
    process would not be what a script could read; Vigil's secrets are there at exec.)
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE,
        env={**os.environ, "VIGIL_SECRET_KEY": SECRET},
    )
    yield proc
    proc.communicate()


def test_a_script_reading_every_environ_sees_nothing_of_vigils(script, jail, vigil):
    attack = script(f"""\
        #!/bin/sh
        cat /proc/{vigil.pid}/environ /proc/{os.getpid()}/environ /proc/1/environ
        for f in /proc/[0-9]*/environ; do cat "$f"; done
        echo; ls /proc | grep -c '^[0-9]'
        """)

    old = run(request(attack))  # the unisolated runner: the attack worked
    result = run(request(attack), launcher=jail)

    assert SECRET in old.output
    assert result.status == "succeeded", result.output
    assert SECRET not in result.output
    assert f"/proc/{vigil.pid}/environ: No such file" in result.output
    assert int(result.output.split()[-1]) <= 4  # only the script's own processes


def test_a_script_cannot_open_or_write_vigil_db(script, jail, data_dir):
    db = data_dir / "vigil.db"
    attack = script(f"#!/bin/sh\nhead -c 15 {db}; echo\necho INSERT >> {db}\nls {data_dir}\n")

    result = run(request(attack), launcher=jail)

    assert "SQLite format" not in result.output
    assert f"cannot open '{db}' for reading: No such file or directory" in result.output
    assert db.read_bytes().startswith(b"SQLite format 3\x00") and b"INSERT" not in db.read_bytes()


def test_a_setsid_child_is_killed_at_the_timeout(script, jail):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    token = f"3{os.getpid()}1"  # a unique sleep length: the escapee's command line
    attack = script(f"""\
        #!/bin/sh
        setsid sh -c 'sleep {token}' &
        setsid /usr/bin/python3 -c 'import socket, time; time.sleep(1); socket.create_connection(("127.0.0.1", {port})).sendall(b"escaped")' &
        sleep 60
        """)

    result = run(request(attack, timeout_s=1, kill_grace_s=0.2), launcher=jail)

    assert result.status == "timed_out"
    assert processes_with(token) == []  # the namespace died with its init
    listener.settimeout(6)  # the escapee would have connected after 1 s
    with pytest.raises(socket.timeout):
        listener.accept()
    listener.close()


def test_a_fork_bomb_is_bounded_by_the_process_limit(script, jail):
    token = f"4{os.getpid()}3"
    bomb = script(f"""\
        #!/usr/bin/python3
        import os
        children = 0
        try:
            while True:
                if os.fork() == 0:
                    os.execv("/bin/sleep", ["sleep", "{token}"])
                children += 1
        except OSError as exc:
            print("fork refused after", children, exc.strerror)
        """)

    result = run(request(bomb, timeout_s=30), launcher=jail)

    assert result.status == "succeeded", result.output
    refused_after = int(result.output.split()[3])
    assert 0 < refused_after < 64 and "Resource temporarily unavailable" in result.output
    assert processes_with(token) == []  # and none outlived the run


def test_writes_are_bounded_per_file_and_in_total(script, jail):
    writer = script("""\
        #!/bin/sh
        head -c 50000000 /dev/zero > huge; echo "huge: $(stat -c %s huge)"
        for i in 1 2 3 4 5 6; do head -c 1000000 /dev/zero > "$TMPDIR/part$i" || echo "part$i refused"; done
        echo more > /tmp/t && echo "tmp is the same space"; df -k . | tail -1
        """)

    result = run(request(writer, max_file_bytes=2 << 20, timeout_s=30), launcher=jail)

    assert f"huge: {2 << 20}" in result.output  # RLIMIT_FSIZE stopped it at 2 MiB
    assert "No space left on device" in result.output  # the 4 MiB work dir is full
    assert "part6 refused" in result.output


def test_the_rest_of_the_filesystem_is_read_only(script, jail):
    attack = script("#!/bin/sh\ntouch /etc/vigil-pwned /var/lib/vigil-pwned /run/vigil-pwned\n")

    result = run(request(attack), launcher=jail)

    assert result.output.count("Read-only file system") == 3, result.output
    assert not os.path.exists("/etc/vigil-pwned")


def test_where_isolation_fails_scripts_are_refused_unless_allowed(script):
    broken = Sandbox(uid=4294967295, gid=4294967295)  # no such uid: setresuid fails

    status = isolation.status(broken, allow_unisolated=False)
    refusing, _ = isolation.launcher(broken, allow_unisolated=False)
    allowing, allowed = isolation.launcher(broken, allow_unisolated=True)
    path = script("#!/bin/sh\necho ran\n")

    assert (status.isolated, status.scripts) == (False, "refused")
    assert "cannot be isolated" in status.message() and "allow_unisolated" in status.message()
    refused = run(request(path), launcher=refusing)
    assert refused.status == "error" and "allow_unisolated is false" in refused.output
    assert allowed.scripts == "unisolated" and run(request(path), launcher=allowing).output == "ran\n"


def test_it_reports_how_scripts_are_isolated_here(data_dir):
    box = isolation.sandbox(run_as="vigil-run", hide=[str(data_dir)], scratch_bytes=1 << 20, max_processes=32)

    status = isolation.status(box, allow_unisolated=False)

    assert status.as_dict()["isolated"] is True and status.scripts == "isolated"
    assert box.uid != 0 and box.hide == (str(data_dir),)


def test_run_as_root_is_refused():
    with pytest.raises(RunnerError, match="must not be root"):
        isolation.sandbox(run_as="0", hide=[], scratch_bytes=1 << 20, max_processes=32)


def test_a_writable_path_stays_writable_for_the_run_user(script, data_dir):
    shared = Path(tempfile.mkdtemp(prefix="vigil-writable-", dir="/run"))
    try:
        os.chown(shared, 65534, 65534)
        box = isolation.sandbox(
            run_as="nobody", hide=[str(data_dir)], scratch_bytes=1 << 20, max_processes=32, writable=[str(shared)]
        )
        launcher = Spawner(sandbox=box, pool_size=1)
        try:
            result = run(request(script(f"#!/bin/sh\necho kept > {shared}/out\ntouch /run/x\n")), launcher=launcher)
        finally:
            launcher.close()
        assert (shared / "out").read_text() == "kept\n"
        assert "Read-only file system" in result.output  # only that path
    finally:
        shutil.rmtree(shared)


def test_a_writable_path_may_not_uncover_a_hidden_one(data_dir):
    with pytest.raises(RunnerError, match="overlaps a hidden path"):
        isolation.sandbox(
            run_as="nobody",
            hide=[str(data_dir)],
            scratch_bytes=1 << 20,
            max_processes=32,
            writable=[str(data_dir.parent)],
        )


def test_the_builtin_http_call_works_isolated(jail):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    params = {"url": f"http://127.0.0.1:{port}/hook", "allow_hosts": [f"127.0.0.1:{port}"], "timeout_s": 20}
    answered = threading.Thread(target=answer_once, args=(listener,), daemon=True)
    answered.start()

    result = run(request(builtin_path("http_call"), params=params, timeout_s=30), launcher=jail)

    answered.join(timeout=30)
    listener.close()
    assert result.status == "succeeded" and "HTTP 200" in result.output, result.output


def answer_once(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with conn:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
