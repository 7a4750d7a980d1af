"""Bindings created through the dashboard form, and the alerts list's captions at phone width,
in Debian's Chromium against Vigil under Gunicorn."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.automation import bindings
from app.automation.models import Binding
from app.db import Database
from tests.browser.conftest import PHONE, Page, Served

pytestmark = pytest.mark.slow  # starts Gunicorn and Chromium

# Each visible cell of the alerts list, and the caption its ::before shows at phone width.
CAPTIONS = """() => [...document.querySelectorAll('#alerts-table tbody tr:first-child td')]
  .filter(td => !td.querySelector('input[type=checkbox]'))
  .map(td => getComputedStyle(td, '::before').content)"""


@pytest.fixture
def cleanup(served: Served) -> Any:
    """Deletes the binding the test makes, so later pages and screenshots show the seeded world."""
    yield
    database = Database(f"sqlite:///{served.log.parent / 'data' / 'vigil.db'}")
    try:
        with database.write() as s:
            made = s.scalar(select(Binding.id).where(Binding.name == "ui-made"))
            if made is not None:
                bindings.delete(s, binding_id=made, by="test")
    finally:
        database.dispose()


def test_an_admin_creates_a_binding_with_the_form_and_sees_it_listed(tab: Page, cleanup: None) -> None:
    tab.login("admin")
    tab.page.goto("/remediations/restart-api")
    tab.page.locator("#new-binding").click()
    tab.page.get_by_label("Name").fill("ui-made")
    tab.page.get_by_label("Mode").select_option("dry_run")
    tab.page.get_by_label("Cooldown").fill("soon")  # refused first, shown under its input
    tab.page.get_by_role("button", name="Create binding").click()
    error = tab.page.locator("#b-cooldown-error")
    assert "expected a duration" in error.inner_text()
    assert tab.page.locator("#b-remediation").input_value() == "restart-api"
    tab.errors.clear()  # the 400 of that refusal, which Chromium logs as a failed load
    tab.page.get_by_label("Cooldown").fill("15m")
    tab.page.get_by_label("Label matchers").fill("service=api\nenv=~prod|staging")
    tab.page.get_by_label("Enabled").uncheck()  # it stays out of the other tests' way
    tab.page.get_by_role("button", name="Create binding").click()
    tab.page.wait_for_url("**/bindings/*")
    assert "Binding ui-made created." in tab.page.locator(".flash").inner_text()
    tab.page.goto("/remediations/restart-api")
    row = tab.page.locator("#bindings-table tbody tr", has_text="ui-made")
    assert "dry run" in row.inner_text() and "15m" in row.inner_text().replace(" ", "")
    row.get_by_role("link", name="Edit").click()
    assert tab.page.get_by_label("Cooldown").input_value() == "15m"
    assert not tab.errors


def test_at_phone_width_each_alert_field_has_its_caption_and_the_binding_form_fits(
    browser: Any, served: Served
) -> None:
    phone = Page(browser, served, viewport=PHONE).login("admin")
    try:
        captions = phone.page.evaluate(CAPTIONS)
        assert captions == [
            '"#"',
            '"State"',
            '"Severity"',
            '"Detector"',
            '"Labels"',
            '"Started"',
            '"Duration"',
            '"Value"',
        ], captions
        phone.page.goto("/bindings/new")
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the binding form scrolls sideways at phone width ({width}px)"
        assert not phone.errors
    finally:
        phone.close()
