"""Real servers on loopback for detector integration tests.

`prometheus_url` starts Debian's Prometheus (installing the package only if
/usr/bin/prometheus is missing) scraping `exporter`, a prometheus_client registry served
by http.server, every second. Everything listens on 127.0.0.1 and is stopped at teardown.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from tests.helpers import free_port, stop

PROMETHEUS = "/usr/bin/prometheus"


class _Serve:
    """http.server on 127.0.0.1:<free port> answering GETs with body()."""

    def __init__(self, body, content_type: str = "text/plain; version=0.0.4") -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                payload = body()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Exporter:
    url: str
    port: int
    value: Gauge  # labelled by "series": a, b, c
    requests: Counter


@pytest.fixture(scope="session")
def exporter() -> Iterator[Exporter]:
    registry = CollectorRegistry()
    gauge = Gauge("vigil_test_value", "A value the tests set.", ["series"], registry=registry)
    counter = Counter("vigil_test_requests", "A counter the tests bump.", registry=registry)
    for name, value in (("a", 1.5), ("b", 2.5), ("c", float("nan"))):
        gauge.labels(series=name).set(value)
    server = _Serve(lambda: generate_latest(registry))
    yield Exporter(server.url, server.port, gauge, counter)
    server.close()


@pytest.fixture
def serve_text():
    """serve_text(body_fn) -> a running loopback server of exposition text."""
    servers: list[_Serve] = []

    def start(body) -> _Serve:
        servers.append(_Serve(body))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    if not os.path.exists(PROMETHEUS):
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            pytest.skip("prometheus is not installed and cannot be installed here (needs root + apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"],
            check=True,
            env=env,
            capture_output=True,
            timeout=900,
        )
    return PROMETHEUS


@pytest.fixture(scope="session")
def prometheus_url(prometheus_binary: str, exporter: Exporter, tmp_path_factory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("prometheus")
    config = home / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: exporter\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{exporter.port}']\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(home / "prometheus.log", "wb")
    process = subprocess.Popen(
        [
            prometheus_binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    try:
        _wait_until_scraped(url, process, home / "prometheus.log")
        yield url
    finally:
        stop(process)
        log.close()


def _wait_until_scraped(url: str, process: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            # a few scrapes in, so range queries have history to return
            query = 'count_over_time(up{job="exporter"}[1m])'
            answer = requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=2).json()
            if answer["data"]["result"] and float(answer["data"]["result"][0]["value"][1]) >= 4:
                return
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"prometheus did not scrape the exporter within 60s: {log_path.read_text()[-2000:]}")
