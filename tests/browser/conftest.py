"""Debian's Chromium, driven by Playwright, against Vigil served by Gunicorn on loopback.

The data is seeded through the services before the server starts. No browser is ever
downloaded: Playwright launches /usr/bin/chromium (scripts/services.sh installs it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from config.loader import load
from tests.browser.seed import Seeded, seed, utc_now
from tests.helpers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Screenshots land in docs/screenshots/ only when asked (VIGIL_UPDATE_SCREENSHOTS=1), so a
# plain test run leaves the work tree clean; otherwise in a temporary folder.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 800}


@dataclass(frozen=True)
class Served:
    base: str
    data: Seeded
    log: Path


def _config_file(tmp: Path, port: int) -> Path:
    csv = tmp / "latency.csv"
    raw = {
        "settings": {"data_dir": str(tmp / "data"), "port": port, "workers": 2},
        "sources": [{"name": "replay", "type": "csv", "path": str(csv)}],
        "detectors": [
            {
                "name": "api-latency",
                "source": "replay",
                "query": "value",
                "window": "1h",
                "interval": "1m",
                "severity": "critical",
                "description": "a lasting jump in API latency",
                "analysis": {"type": "changepoint"},
            },
            {
                "name": "cpu-high",
                "source": "replay",
                "query": "value",
                "window": "1h",
                "interval": "30s",
                "analysis": {"type": "threshold", "above": 200},
            },
        ],
        # Nothing listens there and no sender runs (--no-scheduler): rows wait in the outbox.
        "channels": [
            {
                "name": "ops-chat",
                "type": "generic",
                "url": "http://127.0.0.1:9/hook",
                "secret": "0123456789abcdef-secret",
                "events": ["remediation.failed"],
            }
        ],
    }
    path = tmp / "vigil.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/services.sh installs Debian's chromium)")
    tmp = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    config_path = _config_file(tmp, port)
    data = seed(load(config_path, {}), tmp / "latency.csv", utc_now())
    env = {k: v for k, v in os.environ.items() if k not in ("VIGIL_ADMIN_TOKEN", "DATABASE_URL")}
    env.update({"VIGIL_CONFIG": str(config_path), "VIGIL_PORT": str(port), "VIGIL_DATA_DIR": str(tmp / "data")})
    log_path = tmp / "serve.log"
    with open(log_path, "w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--no-scheduler"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, proc, log_path)
            yield Served(base, data, log_path)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            break
        try:
            if requests.get(f"{base}/api/v1/ready", timeout=5).ok:
                return
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    pytest.fail(log_path.read_text())


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Page:
    """A browser tab on the served dashboard that records console errors (CSP violations land there)."""

    def __init__(self, browser: Any, served: Served, viewport: dict[str, int] = DESKTOP) -> None:
        self.served = served
        self.context = browser.new_context(base_url=served.base, viewport=viewport)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", self._only_loopback)

    def _only_loopback(self, request: Any) -> None:
        if not request.url.startswith(self.served.base):
            self.errors.append(f"request left Vigil: {request.url}")

    def login(self, role: str) -> "Page":
        self.page.goto("/login")
        self.page.get_by_label("API token").fill(self.served.data.tokens[role])
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/alerts")
        return self

    def shot(self, name: str, *, full_page: bool = True) -> Path:
        folder = SCREENSHOTS if os.environ.get("VIGIL_UPDATE_SCREENSHOTS") else self.served.log.parent / "shots"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any, served: Served) -> Iterator[Page]:
    page = Page(browser, served)
    yield page
    page.close()
