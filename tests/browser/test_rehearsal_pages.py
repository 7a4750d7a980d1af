"""Rehearsals in Debian's Chromium against a real Gunicorn on loopback: an operator rehearses a
binding from its page and reads the timeline of would-runs and skips by reason, then rehearses
a detector with a lower threshold over a real Prometheus's backfilled history and sees actual
and rehearsed alerts drawn over the metric (uPlot, charts.js), with no CSP or script error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from app import database_for, migrate
from app.alerts.models import Alert
from app.auth import service as auth
from app.automation import bindings, registry
from config.loader import load
from config.schema import BindingConfig
from detectors.lifecycle import fingerprint
from remediations import parse_manifest
from tests.browser.conftest import CHROMIUM, PHONE, Page, Served, _wait_ready
from tests.browser.seed import Seeded
from tests.browser.test_dashboard import CANVAS_INK
from tests.helpers import free_port
from tests.integration.rehearsal import history

pytestmark = [
    pytest.mark.slow,  # starts Prometheus, Gunicorn and Chromium
    pytest.mark.skipif(not Path(history.PROMTOOL).exists(), reason="needs promtool"),
]
NOW = datetime.now(timezone.utc).replace(microsecond=0)
LABELS = {"__name__": "vigil_rh", "series": "a"}


def _seeded(tmp: Path, port: int, prometheus: str) -> tuple[Path, dict[str, str], int]:
    """A config file, tokens, a binding and the alerts it and the detector are judged on."""
    raw = {
        "settings": {"data_dir": str(tmp / "data"), "port": port, "workers": 1},
        "sources": [{"name": "prom", "type": "prometheus", "url": prometheus}],
        "detectors": [
            {
                "name": "rh",
                "source": "prom",
                "query": "vigil_rh",
                "interval": "5m",
                "window": "15m",
                "analysis": {"type": "threshold", "above": 90},
            }
        ],
    }
    path = tmp / "vigil.yaml"
    path.write_text(yaml.safe_dump(raw))
    database = database_for(load(path, {}))
    migrate.upgrade(database)
    with database.write() as s:
        tokens = {
            role: auth.create(s, name=f"{role}-token", role=role, by="test")[1] for role in ("viewer", "operator")
        }
        registry.register(
            s,
            manifest=parse_manifest({"name": "fix", "script": "#!/bin/sh\ntrue\n"}),
            by="test",
            now=NOW - timedelta(days=3),
        )
        binding = bindings.create(
            s,
            spec=BindingConfig(
                name="fix-cpu",
                remediation="fix",
                detector="cpu",
                mode="auto",
                cooldown=3600,
                rate_limit=2,
                rate_window=3600,
            ),
            by="test",
            now=NOW - timedelta(days=3),
        )
        for i in range(200):  # every 10 minutes on 4 instances: cooldown and rate limit both hold some back
            at = NOW - timedelta(hours=36) + timedelta(minutes=10 * i)
            s.add(
                Alert(
                    fingerprint=f"fp-{i % 4}",
                    detector="cpu",
                    labels={"instance": f"web-{i % 4}"},
                    severity="critical",
                    state="resolved",
                    kind="threshold",
                    started_at=at,
                    fired_at=at,
                    resolved_at=at + timedelta(minutes=5),
                    last_seen_at=at,
                )
            )
        fired = history.START + timedelta(hours=10, minutes=5)  # what the live detector raised for the spike
        s.add(
            Alert(
                fingerprint=fingerprint("rh", LABELS),
                detector="rh",
                labels=LABELS,
                severity="warning",
                state="resolved",
                kind="threshold",
                started_at=fired,
                fired_at=fired,
                resolved_at=history.START + timedelta(hours=12),
                last_seen_at=fired,
            )
        )
        binding_id = binding.id
    database.dispose()
    return path, tokens, binding_id


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, int]]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/services.sh installs Debian's chromium)")
    tmp = tmp_path_factory.mktemp("rehearsal-pages")
    prometheus = history.serve(tmp / "prom")
    (tmp / "prom").mkdir()
    url = next(prometheus)
    port = free_port()
    config_path, tokens, binding_id = _seeded(tmp, port, url)
    env = {k: v for k, v in os.environ.items() if k not in ("VIGIL_ADMIN_TOKEN", "DATABASE_URL")}
    env.update({"VIGIL_CONFIG": str(config_path), "VIGIL_PORT": str(port), "VIGIL_DATA_DIR": str(tmp / "data")})
    log_path = tmp / "serve.log"
    try:
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
                yield Served(base, Seeded(tokens, 0, 0, 0, 0, 0), log_path), binding_id
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
    finally:
        prometheus.close()  # stops Prometheus


def test_an_operator_rehearses_a_binding_from_its_page(browser: Any, served: tuple[Served, int]) -> None:
    site, binding_id = served
    tab = Page(browser, site).login("operator")
    try:
        tab.page.goto("/remediations/fix")
        tab.page.get_by_role("link", name="fix-cpu", exact=True).click()
        tab.page.wait_for_url(f"**/bindings/{binding_id}")
        tab.page.get_by_label("Since").fill("2d")
        tab.page.get_by_role("button", name="Rehearse").click()
        tab.page.wait_for_selector("#rehearsal-timeline")
        rows = {
            row.get_attribute("data-row"): row for row in tab.page.locator("#rehearsal-timeline tr[data-row]").all()
        }
        assert {"run", "cooldown", "rate_limit"} <= set(rows)
        runs = int(tab.page.locator("#rehearsal-runs").inner_text())
        skipped = int(tab.page.locator("#rehearsal-skipped").inner_text())
        assert runs > 0 and skipped > 0 and runs + skipped == 200
        assert rows["run"].locator("rect.mark").count() > 10  # would-run marks spread over the 36 hours
        for key in ("run", "cooldown", "rate_limit"):  # each row on screen, drawn across the card
            box = rows[key].locator("svg.strip").bounding_box()
            assert box and box["x"] > 100 and box["width"] > 600 and box["height"] >= 14, (key, box)
        chips = tab.page.locator(".chip.guard").all_inner_texts()
        assert any(c.startswith("cooldown") for c in chips) and any(c.startswith("rate limit") for c in chips)
        tab.page.get_by_text("First decisions").click()
        assert "run: all checks passed" in tab.page.locator("#rehearsal-result table.data").first.inner_text()
        tab.shot("binding-rehearsal")
        assert tab.errors == []
    finally:
        tab.close()


def test_a_detector_rehearsal_draws_actual_and_rehearsed_alerts(browser: Any, served: tuple[Served, int]) -> None:
    site, _binding = served
    tab = Page(browser, site).login("operator")
    try:
        tab.page.goto("/detectors")
        tab.page.get_by_role("link", name="rh", exact=True).click()
        tab.page.wait_for_url("**/detectors/rh")
        tab.page.get_by_label("Since").fill(history.START.isoformat())
        tab.page.get_by_label("Until").fill(history.NOW.isoformat())
        tab.page.get_by_label("Changes (YAML, optional)").fill("analysis: {type: threshold, above: 70}")
        tab.page.get_by_role("button", name="Rehearse").click()
        tab.page.wait_for_selector("[data-rehearsal-chart] canvas")
        assert tab.page.locator("#count-added").inner_text() == "1"
        assert tab.page.locator("#rehearsal-alerts tr[data-change='same']").count() == 1
        drawn = tab.page.evaluate(CANVAS_INK, "[data-rehearsal-chart] canvas")
        assert drawn["width"] > 600 and drawn["ink"] > 5000, drawn
        lanes = tab.page.evaluate(LANE_COLOURS, "[data-rehearsal-chart] canvas")
        assert lanes["actual"] > 20 and lanes["rehearsed"] > 20, lanes  # both kinds of band are on the plot
        legend = tab.page.locator("[data-rehearsal-chart] .u-legend").inner_text()
        assert "rehearsed above" in legend and "configured above" in legend
        tab.shot("detector-rehearsal")
        assert tab.errors == []
    finally:
        tab.close()


def test_the_binding_timeline_fits_a_phone(browser: Any, served: tuple[Served, int]) -> None:
    site, binding_id = served
    tab = Page(browser, site, viewport=PHONE).login("operator")
    try:
        tab.page.goto(f"/bindings/{binding_id}")
        tab.page.get_by_label("Since").fill("2d")
        tab.page.get_by_role("button", name="Rehearse").click()
        tab.page.wait_for_selector("#rehearsal-timeline")
        width = tab.page.evaluate("document.documentElement.scrollWidth")
        tab.shot("binding-rehearsal-phone")
        assert width <= PHONE["width"], width  # nothing scrolls sideways
        assert tab.errors == []
    finally:
        tab.close()


# Pixels of the alert lanes' colours (rehearsal.css) in the canvas, exact or blended over the panel.
LANE_COLOURS = """(selector) => {
  const canvas = document.querySelector(selector);
  const css = getComputedStyle(document.documentElement);
  const rgb = (name) => { const probe = document.createElement("span"); probe.style.color = css.getPropertyValue(name);
    document.body.appendChild(probe); const m = getComputedStyle(probe).color.match(/\\d+/g).map(Number); probe.remove(); return m; };
  const want = {actual: rgb("--chart-actual"), rehearsed: rgb("--chart-rehearsed")};
  const {data} = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  const found = {actual: 0, rehearsed: 0};
  for (let i = 0; i < data.length; i += 4) {
    for (const kind of ["actual", "rehearsed"]) {
      const c = want[kind];
      if (Math.abs(data[i] - c[0]) < 40 && Math.abs(data[i + 1] - c[1]) < 40 && Math.abs(data[i + 2] - c[2]) < 40 && data[i + 3] > 200) found[kind]++;
    }
  }
  return found;
}"""
