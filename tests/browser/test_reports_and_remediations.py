"""Reports, the notification outbox, the run form, a version diff, live output, phone width,
keyboard and dark mode, in Debian's Chromium against Vigil under Gunicorn."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from app.automation import registry
from app.automation.models import Execution
from app.automation.results import record_output
from app.db import Database, utcnow
from app.notify.models import OutboxMessage
from remediations import parse_manifest
from tests.browser.conftest import PHONE, Page, Served
from tests.browser.seed import SCRIPT
from tests.browser.test_dashboard import CANVAS_INK

pytestmark = pytest.mark.slow  # starts Gunicorn and Chromium

SCHEMA = {
    "type": "object",
    "required": ["service", "replicas"],
    "properties": {
        "service": {"type": "string", "description": "the systemd unit to scale", "pattern": "^[a-z-]+$"},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 20},
        "mode": {"enum": ["graceful", "hard"], "default": "graceful"},
        "drain": {"type": "boolean"},
    },
}
LISTS = (
    "/alerts",
    "/executions",
    "/notifications",
    "/audit",
    "/reports",
    "/remediations",
    "/detectors",
    "/remediations/restart-api",
)


@dataclass(frozen=True)
class Extra:
    failed_notification: int
    running_execution: int


def _database(served: Served) -> Database:
    return Database(f"sqlite:///{served.log.parent / 'data' / 'vigil.db'}")


@pytest.fixture(scope="module")
def extra(served: Served) -> Iterator[Extra]:
    """A remediation with parameters, a second version of restart-api, a failed notification
    and a running execution, added to the served database."""
    database = _database(served)
    now = utcnow()
    try:
        with database.write() as s:
            registry.register(
                s,
                manifest=parse_manifest(
                    {
                        "name": "scale-workers",
                        "script": "#!/bin/sh\ncat\n",
                        "description": "scale a service's workers",
                        "params_schema": SCHEMA,
                    }
                ),
                by="admin-token",
                now=now,
            )
            registry.register(
                s,
                manifest=parse_manifest(
                    {
                        "name": "restart-api",
                        "description": "restart the API service, gently",
                        "script": SCRIPT.replace('echo "restarting', 'systemctl reload api <&- && echo "reloading'),
                    }
                ),
                by="admin-token",
                now=now,
            )
            failed = OutboxMessage(
                channel="ops-chat",
                event="remediation.failed",
                group_key="g",
                alert_id=None,
                severity="warning",
                payload={},
                state="failed",
                attempts=5,
                last_status=502,
                last_error="HTTP 502: bad gateway <b>upstream</b>",
                created_at=now,
                not_before=now,
                give_up_at=now,
            )
            running = Execution(
                remediation="restart-api",
                version=1,
                version_hash="0" * 64,
                state="running",
                reason="manual run by operator-token",
                trigger="manual",
                triggered_by="operator-token",
                params={},
                queued_at=now - timedelta(seconds=5),
                started_at=now,
                output="step 1: draining\n",
                runner="browser-test",
            )
            s.add_all([failed, running])
            s.flush()
            found = Extra(failed.id, running.id)
        yield found
    finally:
        database.dispose()


def test_the_reports_page_draws_its_charts_and_exports_its_tables(tab: Page, extra: Extra) -> None:
    tab.login("viewer")
    tab.page.get_by_role("link", name="Reports").click()
    tab.page.get_by_label("Period", exact=True).select_option("7d")
    tab.page.get_by_role("button", name="Show").click()
    tab.page.wait_for_url(re.compile(r"/reports\?range=7d"))
    for chart in ("severity", "detector", "response", "remediation"):
        tab.page.wait_for_selector(f"#chart-{chart} canvas")
    drawn = tab.page.evaluate(CANVAS_INK, "#chart-severity canvas")
    assert drawn["width"] > 400 and drawn["ink"] > 3000, drawn
    legend = tab.page.locator("#chart-detector .u-legend").inner_text()
    assert "disk-full" in legend and "api-errors" in legend
    summary = tab.page.locator("#report-summary").inner_text()
    assert re.search(r"Alerts\s+\d+", summary) and "Mean time to resolve" in summary
    noisy = tab.page.locator("#detectors-report tbody tr").first.inner_text()
    assert re.search(r"(disk-full|api-errors|queue-depth)", noisy)
    with tab.page.expect_download() as download:
        tab.page.locator("section", has_text="Noisiest detectors").get_by_role("link", name="CSV").click()
    path = download.value.path()
    assert open(path).readline().startswith("detector,alerts,share")
    api = tab.page.request.get("/reports?range=7d")
    assert api.ok
    assert not tab.errors


def test_an_operator_retries_a_failed_notification(tab: Page, extra: Extra, served: Served) -> None:
    tab.login("operator")
    tab.page.get_by_role("link", name="Notifications").click()
    tab.page.get_by_label("State").select_option("failed")
    tab.page.get_by_role("button", name="Filter").click()
    row = tab.page.locator(f"#notification-{extra.failed_notification}")
    assert "HTTP 502: bad gateway <b>upstream</b>" in row.inner_text()  # shown as text, never as markup
    row.get_by_role("button", name="Retry").click()
    tab.page.wait_for_url(re.compile(r"/notifications\?state=failed"))
    assert f"Notification {extra.failed_notification} will be sent again" in tab.page.locator(".flash.ok").inner_text()
    assert tab.page.locator(f"#notification-{extra.failed_notification}").count() == 0  # pending now
    tab.page.goto(f"/audit?action=notification.retry&target=notification:{extra.failed_notification}")
    assert "operator-token" in tab.page.locator("#audit-table").inner_text()
    assert not tab.errors


def test_the_run_form_is_built_from_the_schema_and_checked_on_the_server(tab: Page, extra: Extra) -> None:
    tab.login("operator")
    tab.page.goto("/remediations/scale-workers")
    tab.page.get_by_role("link", name="Run…").click()
    form = tab.page.locator("#run-form")
    assert form.get_by_label("service").get_attribute("required") is not None
    assert form.get_by_label("mode").input_value() == "graceful"
    assert form.get_by_label("drain").locator("option").all_inner_texts() == ["— not set —", "true", "false"]
    assert "the systemd unit to scale" in form.inner_text() and "integer ≥ 1, ≤ 20" in form.inner_text()
    form.get_by_label("service").fill("Web API")
    form.get_by_label("replicas").fill("50")
    tab.page.get_by_role("button", name="Run now").click()
    assert "Not run" in tab.page.locator("#run-errors").inner_text()
    assert tab.page.locator("#p-replicas-error").inner_text() == "50 is greater than the maximum of 20"
    assert tab.page.get_by_label("service").get_attribute("aria-invalid") == "true"
    assert tab.page.get_by_label("service").input_value() == "Web API"  # kept to correct
    tab.page.get_by_label("service").fill("web-api")
    tab.page.get_by_label("replicas").fill("4")
    tab.page.get_by_label("drain").select_option("true")
    tab.page.get_by_role("button", name="Run now").click()
    tab.page.wait_for_url(re.compile(r"/executions/\d+$"))
    assert "queued: scale-workers v1" in tab.page.locator(".flash.ok").inner_text()
    facts = tab.page.locator(".facts").inner_text()
    assert '"replicas": 4' in facts and '"drain": true' in facts and '"service": "web-api"' in facts
    assert not [e for e in tab.errors if "status of 400" not in e]


def test_two_versions_of_a_script_show_as_a_diff(tab: Page, extra: Extra) -> None:
    tab.login("viewer")
    tab.page.goto("/remediations/restart-api/versions/2")
    tab.page.get_by_role("button", name="Show diff").click()
    tab.page.wait_for_url(re.compile(r"/remediations/restart-api/diff\?"))
    diff = tab.page.locator("#script-diff")
    removed = diff.locator(".del").all_inner_texts()
    added = diff.locator(".add").all_inner_texts()
    assert any('echo "restarting' in line for line in removed)
    assert any("systemctl reload api <&- &&" in line for line in added)  # escaped text, shown verbatim
    assert "description" in tab.page.locator("#manifest-changes").inner_text()
    tab.page.get_by_label("From", exact=True).select_option("2")
    tab.page.get_by_label("To", exact=True).select_option("1")
    tab.page.get_by_role("button", name="Compare").click()
    tab.page.wait_for_url(re.compile(r"from=2&to=1"))
    assert any("systemctl" in line for line in tab.page.locator("#script-diff .del").all_inner_texts())
    assert not tab.errors


def test_a_running_execution_shows_its_output_as_it_arrives(tab: Page, extra: Extra, served: Served) -> None:
    tab.login("viewer")
    tab.page.goto(f"/executions/{extra.running_execution}")
    live = tab.page.locator("#live-output")
    assert live.inner_text().strip() == "step 1: draining"
    tab.page.evaluate("window.__same_page = true")
    database = _database(served)
    try:
        record_output(database, extra.running_execution, "step 1: draining\nstep 2: restarting\n")
        tab.page.locator("#live-output", has_text="step 2: restarting").wait_for(timeout=15_000)
        assert tab.page.evaluate("window.__same_page") is True  # appended, not reloaded
        assert "Running" in tab.page.locator("#live-status").inner_text()
        with database.write() as s:
            s.execute(
                update(Execution)
                .where(Execution.id == extra.running_execution)
                .values(
                    state="succeeded",
                    exit_code=0,
                    finished_at=utcnow(),
                    duration_s=2.5,
                    output="step 1: draining\nstep 2: restarting\ndone\n",
                )
            )
    finally:
        database.dispose()
    tab.page.locator("#output", has_text="done").wait_for(timeout=15_000)  # the page reloads once finished
    assert tab.page.locator("h1 .chip").inner_text() == "succeeded"
    assert not tab.errors


def test_at_phone_width_in_dark_mode_every_list_fits_and_reads(browser: Any, served: Served, extra: Extra) -> None:
    phone = Page(browser, served, viewport=PHONE)
    phone.context.close()
    phone.context = browser.new_context(base_url=served.base, viewport=PHONE, color_scheme="dark")
    phone.page = phone.context.new_page()
    phone.page.on("console", lambda msg: msg.type == "error" and phone.errors.append(msg.text))
    try:
        phone.login("operator")
        for path in LISTS:
            phone.page.goto(path)
            width = phone.page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} scrolls sideways at phone width ({width}px)"
            clipped = phone.page.evaluate(CLIPPED)
            assert clipped == [], f"{path}: text cut off without a title to read it: {clipped[:3]}"
        background = phone.page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(15, 18, 22)", background  # the dark palette, from prefers-color-scheme
        for selector in ("body", "main a", ".muted", "table.data td"):  # WCAG AA: 4.5:1 for text
            ratio = phone.page.evaluate(CONTRAST, selector)
            assert ratio >= 4.5, (selector, ratio)
        phone.page.goto("/executions")
        phone.shot("executions-phone-dark")
        phone.page.goto("/alerts")
        phone.shot("alerts-phone-dark", full_page=False)
        phone.page.goto("/reports")
        phone.page.wait_for_selector("#chart-severity canvas")
        phone.shot("reports-phone-dark", full_page=False)
        assert not phone.errors
    finally:
        phone.close()


def test_the_keyboard_reaches_the_skip_link_first_and_focus_is_visible(tab: Page) -> None:
    tab.login("operator")
    tab.page.goto("/notifications")
    tab.page.keyboard.press("Tab")
    focused = tab.page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    assert tab.page.locator(".skip").bounding_box()["x"] >= 0  # moved on screen while focused
    tab.page.keyboard.press("Enter")
    assert tab.page.evaluate("location.hash") == "#main"
    tab.page.keyboard.press("Tab")
    outline = tab.page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert outline[0] == "solid" and outline[1] >= 2, outline
    # The filter form is reached in reading order: state, channel, event, alert, then its buttons.
    order = []
    tab.page.get_by_label("State").focus()
    for _ in range(5):
        order.append(tab.page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        tab.page.keyboard.press("Tab")
    assert order == ["n-state", "n-channel", "n-event", "n-alert", "Filter"]
    assert not tab.errors


def test_screenshots_of_the_new_pages(browser: Any, served: Served, extra: Extra) -> None:
    desktop = Page(browser, served)
    try:
        desktop.login("operator")
        for name, path, wait in [
            ("reports-desktop", "/reports", "#chart-remediation canvas"),
            ("notifications-desktop", "/notifications", None),
            ("run-desktop", "/remediations/scale-workers/run", None),
            ("diff-desktop", "/remediations/restart-api/diff?from=1&to=2", None),
        ]:
            desktop.page.goto(path)
            if wait:
                desktop.page.wait_for_selector(wait)
            size = desktop.shot(name).stat().st_size
            assert 5_000 < size < 400_000, (name, size)
        assert not desktop.errors
    finally:
        desktop.close()


# Elements whose text overflows their box (cut off or hidden) with no title to read it in full.
CLIPPED = """(() => {
  const cut = [];
  for (const el of document.querySelectorAll("main td *, main th *, main td, main th, .label")) {
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== "visible"
        && !el.closest("[title], .sr-only, thead") && el.clientWidth > 0) cut.push(el.outerHTML.slice(0, 120));
  }
  return cut;
})()"""


# Contrast ratio (WCAG 2) of an element's text colour on the page's background.
CONTRAST = """(selector) => {
  const rgb = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = (c) => { const [r, g, b] = rgb(c).map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const fg = lum(getComputedStyle(document.querySelector(selector)).color);
  const bg = lum(getComputedStyle(document.body).backgroundColor);
  return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
}"""
