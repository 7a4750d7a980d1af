"""With log_format json, every line Vigil's processes write to stderr is one JSON object: the
Gunicorn master and workers, the scheduler child, the start banner; ids are keys, not text in
the message, times carry their zone, APScheduler's per-run lines are gone and no secret shows."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from tests.helpers import free_port

pytestmark = pytest.mark.slow

SECRETS = {
    "INGEST_TOKEN": "ingest-secret-4f1c9a",
    "HOOK_KEY": "hook-key-77d2e0",
    "HOOK_HMAC": "hmac-secret-0123456789abcdef",
}
CONFIG = """
settings: {log_format: json, workers: 2, scheduler: {renew_every_s: 1s, lease_ttl_s: 5s}}
ingest:
  generic: {token: "${INGEST_TOKEN}"}
sources: [{name: host, type: host}]
detectors:
  - {name: always-busy, source: host, query: cpu_percent, interval: 1s, window: 1m,
     analysis: {type: threshold, above: -1}}
channels:
  - {name: hook, type: generic, url: "http://127.0.0.1:9/hook?key=${HOOK_KEY}", secret: "${HOOK_HMAC}",
     group_wait_s: 0s}
"""
ISO_WITH_ZONE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
# `key=value` text inside a message is what this change moved into fields.
FIELD_IN_TEXT = re.compile(r"\b(detector|alert|execution|holder|channel|outbox|request_id|pid|path)=")


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 240) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = check()
        except requests.RequestException:
            found = None
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def parse(path: Path) -> list[dict[str, Any]]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    bad = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            bad.append(line)
    assert bad == [], f"not JSON: {bad[:5]}"
    return [json.loads(line) for line in lines]


@pytest.fixture
def served(tmp_path: Path):
    port = free_port()
    (tmp_path / "vigil.yaml").write_text(CONFIG)
    env = {
        **os.environ,
        **SECRETS,
        "VIGIL_DATA_DIR": str(tmp_path / "data"),
        "VIGIL_PORT": str(port),
        "VIGIL_CONFIG": str(tmp_path / "vigil.yaml"),
    }
    for name in ("VIGIL_ADMIN_TOKEN", "DATABASE_URL", "VIGIL_LOG_FORMAT"):
        env.pop(name, None)
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"], env=env, stdout=stdout, stderr=stderr, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("/ready", lambda: requests.get(f"{base}/api/v1/ready", timeout=5).ok)
        yield base, out, err
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_every_line_is_json_with_fields_as_keys_and_no_secret(served) -> None:
    base, out, err = served
    ingest = {"Authorization": f"Bearer {SECRETS['INGEST_TOKEN']}"}
    answer = requests.post(
        f"{base}/api/v1/ingest/generic?key={SECRETS['HOOK_KEY']}",
        headers=ingest,
        timeout=10,
        json={"alerts": [{"name": "disk", "status": "firing", "labels": {"host": "a"}}]},
    )
    assert answer.status_code == 202
    assert (
        requests.post(
            f"{base}/api/v1/ingest/generic", headers={"Authorization": "Bearer wrong"}, json={"alerts": []}, timeout=10
        ).status_code
        == 401
    )

    def logged(message: str, key: str) -> bool:
        return any(r.get("message") == message and key in r for r in parse(err))

    # The detector fires on its first run; its alert goes to the (unreachable) channel.
    wait_for("an alert event", lambda: logged("alert event", "detector"))
    wait_for("a failed delivery", lambda: logged("notification delivery", "channel"))
    wait_for("the inbound alert processed", lambda: logged("scheduler processed inbound alerts", "alerts"))
    time.sleep(3)  # a few more detector runs, whose APScheduler lines must not appear

    records = parse(err)
    assert all(ISO_WITH_ZONE.match(r["time"]) for r in records), [r["time"] for r in records][:3]
    assert all({"time", "level", "logger", "pid", "message"} <= r.keys() for r in records)
    loggers = {r["logger"] for r in records}
    assert {"gunicorn.error", "vigil.server", "vigil.http", "vigil.scheduler", "vigil.detection"} <= loggers, loggers
    assert any(r["message"].startswith("Booting worker") for r in records)
    [banner] = [r for r in records if r["message"] == "Vigil listening"]
    assert banner["api_docs"] == f"{base}/api/docs"
    event = next(r for r in records if r["message"] == "alert event")
    assert event["detector"] == "always-busy" and isinstance(event["alert"], int) and event["event"] == "firing"
    assert len({r["pid"] for r in records}) >= 4, "master, two workers and the scheduler all log JSON"
    assert [r["message"] for r in records if FIELD_IN_TEXT.search(r["message"])] == []
    assert not [r for r in records if "Running job" in r["message"] or "executed successfully" in r["message"]]

    # The bootstrap token is on stdout, as JSON, once; never in the log.
    [shown] = parse(out)
    token = shown["bootstrap_admin_token"]
    assert token.startswith("vgl_")
    text = err.read_text()
    assert [name for name, secret in {**SECRETS, "admin": token}.items() if secret in text] == []


def test_gunicorn_run_directly_logs_json_access_lines_without_the_query(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "VIGIL_DATA_DIR": str(tmp_path / "data"),
        "VIGIL_LOG_FORMAT": "json",
        "VIGIL_ADMIN_TOKEN": "vgl_" + "a" * 40,
    }
    env.pop("DATABASE_URL", None)
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-m", "app", "db", "upgrade"], env=env, cwd=root, check=True, capture_output=True, timeout=120
    )
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
            env=env,
            cwd=root,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for("health", lambda: requests.get(f"{base}/api/v1/health?token=leaky", timeout=5).ok)
        wait_for("the access line", lambda: any(r.get("logger") == "gunicorn.access" for r in parse(out)))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    access = [r for r in parse(out) if r["logger"] == "gunicorn.access"]
    assert access[-1]["path"] == "/api/v1/health" and access[-1]["status"] == 200
    assert len(access[-1]["request_id"]) == 32
    records = parse(err)
    assert any(r["message"].startswith("Listening at") for r in records)
    assert any(r["logger"] == "vigil.http" and r["path"] == "/api/v1/health" for r in records)
    assert "leaky" not in out.read_text() + err.read_text()
