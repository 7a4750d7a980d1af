"""`vigil serve` under faults, with the real Gunicorn master, workers and scheduler child:
the scheduler killed with -9 comes back, and a full data disk answers 503 without a crash."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.helpers import free_port

ADMIN = "serve-faults-admin-token-0123456789"
INGEST = "serve-faults-ingest-token-0123456789"
pytestmark = pytest.mark.slow


def wait_for(what: str, predicate: Callable[[], Any], timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = predicate()
        except requests.RequestException:
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {timeout_s:g}s for {what}"
        time.sleep(0.2)


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
        self.proc, self.base, self.log = proc, base, log

    def children(self) -> dict[int, str]:
        """The master's child processes, pid -> command line."""
        out = {}
        for pid in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split():
            try:
                out[int(pid)] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except FileNotFoundError:
                pass  # it just exited
        return out

    def scheduler_pid(self) -> int | None:
        return next((pid for pid, cmd in self.children().items() if " scheduler" in cmd), None)

    def worker_pids(self) -> set[int]:
        return {pid for pid, cmd in self.children().items() if " scheduler" not in cmd}

    def ready(self) -> requests.Response:
        return requests.get(f"{self.base}/api/v1/ready", timeout=10)

    def ingest(self, alerts: list[dict[str, Any]]) -> requests.Response:
        return requests.post(
            f"{self.base}/api/v1/ingest/generic",
            json={"alerts": alerts},
            timeout=60,
            headers={"Authorization": f"Bearer {INGEST}"},
        )

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.base}{path}", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(data_dir: Path, *args: str, settings: dict[str, Any] | None = None) -> Served:
        config = {
            "settings": {"data_dir": str(data_dir), "workers": 2, **(settings or {})},
            "ingest": {"generic": {"token": INGEST}},
        }
        path = tmp_path / "vigil.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {**os.environ, "VIGIL_PORT": str(free_port()), "VIGIL_ADMIN_TOKEN": ADMIN}
        env.pop("DATABASE_URL", None)
        log = tmp_path / "serve.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--config", str(path), *args],
            env=env,
            stdout=open(log, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(proc)
        served = Served(proc, f"http://127.0.0.1:{env['VIGIL_PORT']}", log)
        wait_for("vigil serve to answer", lambda: served.ready().status_code in (200, 503))
        return served

    yield start
    for proc in started:
        if proc.poll() is not None:
            continue  # the test stopped it
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def holder_pid(served: Served) -> int | None:
    scheduler = served.ready().json().get("scheduler")
    return int(scheduler["holder"].split(":")[1]) if scheduler and not scheduler["stale"] else None


def test_a_scheduler_killed_with_9_is_restarted_and_new_alerts_are_processed(tmp_path, serve) -> None:
    served = serve(tmp_path / "data", settings={"scheduler": {"lease_ttl_s": 3, "renew_every_s": 0.5}})
    first = wait_for(
        "the scheduler to hold the lease",
        lambda: served.scheduler_pid() == holder_pid(served) and served.scheduler_pid(),
    )
    os.kill(first, signal.SIGKILL)
    killed_at = time.monotonic()
    second = wait_for("a new scheduler", lambda: (served.scheduler_pid() or first) != first and served.scheduler_pid())
    restarted_s = time.monotonic() - killed_at
    wait_for("the new scheduler to take the lease", lambda: holder_pid(served) == second)
    assert (
        served.ingest([{"name": "after-kill", "status": "firing", "labels": {"instance": "db-1"}}]).status_code == 202
    )
    wait_for("the alert to be processed", lambda: "after-kill" in served.get("/api/v1/alerts").text)
    recovered_s = time.monotonic() - killed_at
    assert re.search(
        rf"scheduler exited; restarting it scheduler_pid={first} status=-9 up_s=[\d.]+ restart=1 delay_s=1.0",
        served.log.read_text(),
    )
    print(
        f"scheduler restarted after {restarted_s:.1f}s; an alert sent then was processed {recovered_s:.1f}s "
        "after the kill"
    )


def test_the_metrics_files_go_with_the_server_and_a_dead_workers_live_gauges_with_it(tmp_path, serve) -> None:
    served = serve(tmp_path / "data", "--no-scheduler")
    path = Path(re.search(r"prometheus multiprocess files path=(\S+)", served.log.read_text()).group(1))
    assert path.is_dir()
    worker = min(wait_for("both workers", lambda: len(served.worker_pids()) == 2 and served.worker_pids()))
    (path / f"gauge_livesum_{worker}.db").write_bytes(b"")  # as a live gauge of that worker would leave
    os.kill(worker, signal.SIGKILL)
    wait_for("the dead worker's live gauge file to go", lambda: not (path / f"gauge_livesum_{worker}.db").exists())
    wait_for("a new worker", lambda: len(served.worker_pids()) == 2)
    assert requests.get(f"{served.base}/metrics", timeout=10).status_code == 200
    os.killpg(served.proc.pid, signal.SIGTERM)
    served.proc.wait(timeout=40)
    assert not path.exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real filesystem that fills up: a 32 MB tmpfs (the test runs as root, as CI does)."""
    path = tmp_path / "disk"
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass  # ENOSPC: the disk is full
    return filler


def test_a_full_data_disk_answers_503_on_writes_and_every_worker_keeps_serving(serve, small_disk) -> None:
    # Reads without a token: a token's first use in a minute records it (a write; see the README).
    served = serve(small_disk / "data", "--no-scheduler", settings={"anonymous_read": True})
    metrics_dir = Path(re.search(r"prometheus multiprocess files path=(\S+)", served.log.read_text()).group(1))
    assert metrics_dir.is_dir() and small_disk not in metrics_dir.parents
    workers = wait_for("both workers", lambda: len(served.worker_pids()) == 2 and served.worker_pids())
    batch = [
        {"name": f"big-{i}", "status": "firing", "labels": {"instance": f"host-{i}", "note": "x" * 1000}}
        for i in range(400)
    ]
    assert served.ingest(batch[:1]).status_code == 202
    filler = fill(small_disk)
    answers = []
    for n in range(20):  # until the database needs a page the disk does not have
        for alert in batch:
            alert["labels"]["round"] = str(n)
        answers.append(served.ingest(batch))
        if answers[-1].status_code == 503:
            break
    assert {a.status_code for a in answers} <= {202, 503} and answers[-1].status_code == 503
    full = answers[-1].json()
    assert "disk is full" in full["message"] and full["errors"] == {} and answers[-1].headers["Retry-After"]
    for _ in range(10):  # reads and /metrics on every worker while the disk is full
        assert requests.get(f"{served.base}/api/v1/alerts", timeout=10).status_code == 200
        assert requests.get(f"{served.base}/metrics", timeout=10).status_code == 200
    assert served.worker_pids() == workers, "no worker died"
    filler.unlink()
    wait_for("writes to work again", lambda: served.ingest(batch[:1]).status_code == 202, 60)
    assert served.worker_pids() == workers
    assert "Traceback" not in served.log.read_text()
