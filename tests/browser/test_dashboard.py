"""What a person does in the dashboard, in a real browser against a real Gunicorn."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.alerts import service as alerts
from app.db import Database
from detectors.findings import Finding
from tests.browser.conftest import Page, Served

# Counts canvas pixels that differ from the top-left one: a drawn chart has thousands.
CANVAS_INK = """(selector) => {
  const canvas = document.querySelector(selector);
  if (!canvas) return {width: 0, height: 0, ink: 0};
  const ctx = canvas.getContext("2d");
  const {data} = ctx.getImageData(0, 0, canvas.width, canvas.height);
  let ink = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2] || data[i + 3] !== data[3]) ink++;
  }
  return {width: canvas.width, height: canvas.height, ink: ink};
}"""

pytestmark = pytest.mark.slow  # starts Gunicorn and Chromium


def test_a_bad_token_shows_an_error_and_no_session(tab: Page) -> None:
    tab.page.goto("/alerts")
    assert "/login" in tab.page.url
    tab.page.get_by_label("API token").fill("vgl_not-a-real-token")
    tab.page.get_by_role("button", name="Sign in").click()
    assert tab.page.locator("#login-error").inner_text() == "That token is unknown or has been revoked."
    tab.page.get_by_label("API token").fill(tab.served.data.tokens["revoked"])
    tab.page.get_by_role("button", name="Sign in").click()
    assert tab.page.locator("#login-error").is_visible()
    tab.page.goto("/alerts")
    assert "/login" in tab.page.url
    assert all("status of 401" in e for e in tab.errors), tab.errors  # the refused sign-ins


def test_a_viewer_sees_alerts_but_no_action_buttons(tab: Page) -> None:
    tab.login("viewer")
    tab.page.goto(f"/alerts/{tab.served.data.change_alert}")
    assert tab.page.locator("#alert-executions").get_by_text("awaiting approval").is_visible()
    for name in ("Approve", "Reject", "Acknowledge", "Pause automation"):
        assert tab.page.get_by_role("button", name=name).count() == 0
    assert tab.page.get_by_role("button", name="Sign out").is_visible()
    assert not tab.errors


def test_filtering_alerts_puts_the_filter_in_the_url_and_pages_by_cursor(tab: Page) -> None:
    tab.login("viewer")
    tab.page.get_by_label("State").select_option("resolved")
    tab.page.get_by_label("Severity").select_option("warning")
    tab.page.get_by_role("button", name="Filter").click()
    tab.page.wait_for_url(re.compile(r"state=resolved"))
    assert "severity=warning" in tab.page.url
    states = tab.page.locator("#alerts-table tbody td:nth-child(2)").all_inner_texts()
    assert states and all(s.strip() == "resolved" for s in states)
    severities = set(tab.page.locator("#alerts-table tbody td:nth-child(3)").all_inner_texts())
    assert severities == {"warning"}
    # A shared link reproduces the view; a bad value is a friendly 400, not a 500.
    tab.page.goto("/alerts?labels=env%3Dstaging")
    assert tab.page.get_by_label("Labels").input_value() == "env=staging"
    response = tab.page.goto("/alerts?state=exploded")
    assert response.status == 400 and "state must be one of" in tab.page.inner_text("main")
    tab.page.goto("/alerts")
    first = tab.page.locator("#alerts-table tbody tr").count()
    tab.page.get_by_role("link", name="Older →").click()
    assert "cursor=" in tab.page.url and first == 50
    assert tab.page.locator("#alerts-table tbody tr").count() >= 1


def test_the_alert_page_draws_the_evidence_chart(tab: Page) -> None:
    tab.login("viewer")
    for alert_id in (tab.served.data.change_alert, tab.served.data.threshold_alert):
        tab.page.goto(f"/alerts/{alert_id}")
        tab.page.wait_for_selector("#evidence-chart canvas")
        drawn = tab.page.evaluate(CANVAS_INK, "#evidence-chart canvas")
        assert drawn["width"] > 600 and drawn["height"] > 200, drawn
        assert drawn["ink"] > 5000, drawn  # line, grid, axes and shading, not a blank canvas
    legend = tab.page.locator("#evidence-chart .u-legend").inner_text()
    assert "above" in legend  # the threshold alert's bound is drawn as its own series
    tab.page.goto(f"/alerts/{tab.served.data.change_alert}")
    caption = tab.page.locator("figcaption").inner_text()
    assert "Change point marked" in caption and "level before" in caption
    timeline = tab.page.locator("#timeline").inner_text()
    assert "firing" in timeline and "remediation.decided" in timeline
    assert not tab.errors


def test_an_operator_approves_a_pending_execution_and_sees_it_queued(tab: Page) -> None:
    tab.login("operator")
    tab.page.goto(f"/alerts/{tab.served.data.change_alert}")
    row = tab.page.locator("#alert-executions tbody tr", has_text=f"#{tab.served.data.pending_execution}")
    row.get_by_role("button", name="Approve").click()
    tab.page.wait_for_url(f"**/alerts/{tab.served.data.change_alert}")
    assert "approve done" in tab.page.locator(".flash.ok").inner_text()
    assert row.locator(".chip").inner_text() == "queued"
    assert row.get_by_role("button", name="Approve").count() == 0
    assert "remediation.approved" in tab.page.locator("#timeline").inner_text()
    tab.page.goto("/audit?action=execution.approve")
    assert "operator-token" in tab.page.locator("#audit-table").inner_text()
    assert "Hash chain verifies" in tab.page.locator("#chain-status").inner_text()
    assert not tab.errors


def test_pausing_automation_shows_a_banner_on_every_page(tab: Page) -> None:
    tab.login("operator")
    tab.page.get_by_role("button", name="Pause automation").click()
    banner = tab.page.locator("#paused-banner")
    assert "Automation is paused" in banner.inner_text() and "operator-token" in banner.inner_text()
    for path in ("/detectors", "/remediations", "/executions", "/audit", f"/alerts/{tab.served.data.resolved_alert}"):
        tab.page.goto(path)
        assert tab.page.locator("#paused-banner").is_visible(), path
    tab.page.get_by_role("button", name="Resume automation").first.click()
    assert tab.page.locator("#paused-banner").count() == 0
    assert not tab.errors


def test_the_firing_panel_refreshes_without_a_reload(tab: Page, served: Served) -> None:
    tab.login("viewer")
    before = int(tab.page.locator("#firing-count").inner_text())
    tab.page.evaluate("window.__same_page = true")
    _fire_one(served, "refresh-probe")
    # The panel polls every 15 s and at once when the tab becomes visible again.
    tab.page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    tab.page.locator("#firing-list", has_text="refresh-probe").wait_for(timeout=10_000)
    assert int(tab.page.locator("#firing-count").inner_text()) == before + 1
    assert tab.page.evaluate("window.__same_page") is True
    assert not tab.errors


def test_the_detector_preview_draws_a_live_chart(tab: Page) -> None:
    tab.login("viewer")
    tab.page.goto("/detectors")
    tab.page.locator("#detectors-table tbody tr", has_text="api-latency").get_by_role("button", name="Preview").click()
    tab.page.wait_for_selector("#preview-charts canvas")
    # The window ends now, so seeded points slide out of it as the run goes on.
    assert re.match(r"api-latency: 1 series, \d{3} points", tab.page.locator("#preview-status").inner_text())
    drawn = tab.page.evaluate(CANVAS_INK, "#preview-charts canvas")
    assert drawn["width"] > 600 and drawn["ink"] > 5000, drawn
    assert not tab.errors


def _fire_one(served: Served, detector: str) -> None:
    from app.db import utcnow

    url = f"sqlite:///{served.log.parent / 'data' / 'vigil.db'}"
    database = Database(url)
    try:
        with database.write() as s:
            finding = Finding("threshold", {"probe": "1"}, "firing", value=99.0, threshold=90.0, message="probe")
            alerts.apply(
                s,
                detector=detector,
                severity="warning",
                static_labels={},
                findings=[finding],
                now=utcnow() - timedelta(seconds=1),
            )
    finally:
        database.dispose()
