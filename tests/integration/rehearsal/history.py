"""Two days of synthetic history for `vigil_rh{series="a"}`, one point a minute, backfilled into a
real Prometheus on loopback with promtool: 50 except 95 at hours 10-12 and 80 at hours 20-21."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

from tests.helpers import free_port, stop

PROMETHEUS, PROMTOOL = "/usr/bin/prometheus", "/usr/bin/promtool"
NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)
START = NOW - timedelta(days=2)


def value(at: datetime) -> float:
    hours = (at - START).total_seconds() / 3600
    if 10 <= hours < 12:
        return 95.0  # above both thresholds
    if 20 <= hours < 21:
        return 80.0  # above 70 only
    return 50.0


def serve(home: Path) -> Iterator[str]:
    """Backfill the history under `home`, start Prometheus on it, yield its URL, stop it."""
    lines = ["# TYPE vigil_rh gauge"]
    at = START
    while at < NOW - timedelta(hours=3):
        lines.append(f'vigil_rh{{series="a"}} {value(at)} {at.timestamp():.0f}')
        at += timedelta(minutes=1)
    (home / "history.om").write_text("\n".join(lines) + "\n# EOF\n")
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(home / "history.om"), str(home / "data")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (home / "prometheus.yml").write_text("global: {}\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        yield url
    finally:
        stop(proc)
