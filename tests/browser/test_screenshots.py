"""Screenshots of every page, desktop and phone width, for docs/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import PHONE, Page, Served

MAX_BYTES = 300_000

pytestmark = pytest.mark.slow  # starts Gunicorn and Chromium


def test_every_page_renders_at_desktop_and_phone_width(browser: Any, served: Served) -> None:
    data = served.data
    pages = [
        ("alerts", "/alerts"),
        ("alert", f"/alerts/{data.change_alert}"),
        ("alert-threshold", f"/alerts/{data.threshold_alert}"),
        ("detectors", "/detectors"),
        ("remediations", "/remediations"),
        ("remediation", "/remediations/restart-api"),
        ("version", "/remediations/restart-api/versions/1"),
        ("executions", "/executions"),
        ("audit", "/audit"),
    ]
    desktop = Page(browser, served)
    try:
        desktop.page.goto("/login")
        desktop.shot("login-desktop", full_page=False)
        desktop.login("operator")
        for name, path in pages:
            desktop.page.goto(path)
            if name.startswith("alert-") or name == "alert":
                desktop.page.wait_for_selector("#evidence-chart canvas")
            if name == "detectors":
                desktop.page.get_by_role("button", name="Preview").first.click()
                desktop.page.wait_for_selector("#preview-charts canvas")
            _check(desktop.shot(f"{name}-desktop", full_page=name not in ("audit", "alerts")))
        assert not desktop.errors
    finally:
        desktop.close()
    phone = Page(browser, served, viewport=PHONE)
    try:
        phone.login("operator")
        _check(phone.shot("alerts-phone", full_page=False))
        phone.page.goto(f"/alerts/{data.change_alert}")
        phone.page.wait_for_selector("#evidence-chart canvas")
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the alert page scrolls sideways at phone width ({width}px)"
        _check(phone.shot("alert-phone"))
        assert not phone.errors
    finally:
        phone.close()


def _check(path: Any) -> None:
    size = path.stat().st_size
    assert 5_000 < size < MAX_BYTES, f"{path.name} is {size} bytes"
