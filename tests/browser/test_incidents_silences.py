"""Incidents, search, silences and bulk acknowledge, as a person uses them in Chromium."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.alerts import service as alerts
from app.db import Database, utcnow
from detectors.findings import Finding
from tests.browser.conftest import Page, Served

pytestmark = pytest.mark.slow  # starts Gunicorn and Chromium


def _write(served: Served, steps: list[tuple[str, dict[str, str], str, int]]) -> list[int]:
    """(detector, labels, finding state, minutes ago) applied in order; the ids of the alerts touched."""
    database = Database(f"sqlite:///{served.log.parent / 'data' / 'vigil.db'}")
    ids = []
    try:
        with database.write() as s:
            for detector, labels, state, ago in steps:
                finding = Finding(
                    "threshold",
                    labels,
                    state,
                    value=99.0 if state == "firing" else 1.0,
                    threshold=90.0,
                    message=f"{detector} probe {state}",
                )
                ids += [
                    t.alert_id
                    for t in alerts.apply(
                        s,
                        detector=detector,
                        severity="warning",
                        static_labels={},
                        findings=[finding],
                        now=utcnow() - timedelta(minutes=ago),
                    )
                ]
    finally:
        database.dispose()
    return ids


def test_a_flapping_alert_is_one_incident_with_its_timeline(tab: Page, served: Served) -> None:
    flaps = [
        step
        for i in range(3)
        for step in (("flappy", {"disk": "sda"}, "firing", 30 - 10 * i), ("flappy", {"disk": "sda"}, "ok", 28 - 10 * i))
    ]
    _write(served, flaps)
    tab.login("viewer")
    tab.page.get_by_role("link", name="Incidents").click()
    tab.page.get_by_label("Detector").fill("flappy")
    tab.page.get_by_role("button", name="Filter").click()
    tab.page.wait_for_url(re.compile(r"/incidents\?.*detector=flappy"))
    rows = tab.page.locator("#incidents-table tbody tr")
    assert rows.count() == 1
    assert rows.first.locator(".count-badge").inner_text() == "3"
    assert "resolved" in rows.first.inner_text()
    tab.shot("incidents-desktop")
    rows.first.get_by_role("link").first.click()
    tab.page.wait_for_url(re.compile(r"/incidents/\d+$"))
    assert tab.page.locator("#incident-alerts tbody tr").count() == 3
    kinds = tab.page.locator("#incident-timeline .chip.ev").all_inner_texts()
    assert kinds == ["firing", "resolved"] * 3
    tab.shot("incident-desktop")
    assert not tab.errors


def test_search_and_regex_labels_narrow_the_alert_list(tab: Page, served: Served) -> None:
    _write(
        served, [("search-probe", {"pod": "ledger-7"}, "firing", 1), ("search-probe", {"pod": "ledger-8"}, "firing", 1)]
    )
    tab.login("viewer")
    tab.page.get_by_label("Search").fill("SEARCH-PROBE ledger")
    tab.page.get_by_role("button", name="Filter").click()
    tab.page.wait_for_url(re.compile(r"q=SEARCH-PROBE"))
    assert tab.page.locator("#alerts-table tbody tr").count() == 2
    tab.page.get_by_label("Labels").fill("pod=~ledger-[7]")
    tab.page.get_by_role("button", name="Filter").click()
    tab.page.wait_for_url(re.compile(r"labels=pod"))
    rows = tab.page.locator("#alerts-table tbody tr")
    assert rows.count() == 1 and "ledger-7" in rows.first.inner_text()
    older = tab.page.locator("#alerts-table a", has_text="search-probe")  # the detector link keeps the filters
    assert "q=SEARCH-PROBE" in (older.first.get_attribute("href") or "")
    assert not tab.errors


def test_silence_an_alert_from_its_page_with_a_live_preview(tab: Page, served: Served) -> None:
    [alert_id] = _write(served, [("silence-probe", {"host": "db-9"}, "firing", 1)])
    tab.login("operator")
    tab.page.goto(f"/alerts/{alert_id}")
    tab.page.get_by_role("link", name="Silence this alert…").click()
    tab.page.wait_for_url(re.compile(rf"/silences/new\?alert={alert_id}"))
    assert tab.page.get_by_label("Label name 1").input_value() in ("detector", "host")
    tab.page.locator("#preview-list", has_text="silence-probe").wait_for(timeout=10_000)
    assert tab.page.locator("#preview-count").inner_text() == "1"
    # Widen the host to a regex: the preview follows as it is typed, and still shows the alert.
    host_row = [i for i in range(1, 3) if tab.page.get_by_label(f"Label name {i}").input_value() == "host"][0]
    tab.page.get_by_label(f"Operator {host_row}").select_option("=~")
    tab.page.get_by_label(f"Value {host_row}").fill("db-.*")
    tab.page.locator("#preview-status", has_text="1 open alert matches").wait_for(timeout=10_000)
    # Take the detector matcher away: a regex alone is for admins, and the preview says so.
    detector_row = 3 - host_row
    tab.page.get_by_label(f"Value {detector_row}").fill("")
    tab.page.get_by_label(f"Label name {detector_row}").fill("")
    tab.page.locator("#preview-status", has_text="only an admin").wait_for(timeout=10_000)
    tab.page.get_by_label(f"Label name {detector_row}").fill("detector")
    tab.page.get_by_label(f"Value {detector_row}").fill("silence-probe")
    tab.page.get_by_label("Duration", exact=True).select_option("1h")
    tab.page.get_by_label("Comment (why)").fill("replacing the disk")
    tab.page.locator("#preview-status:not(.error-text)", has_text="1 open alert matches").wait_for(timeout=10_000)
    tab.shot("silence-new-desktop")
    tab.page.get_by_role("button", name="Create silence").click()
    tab.page.wait_for_url(re.compile(r"/silences$"))
    row = tab.page.locator("#silences-table tbody tr", has_text="replacing the disk")
    assert "host=~db-.*" in row.inner_text().replace("\n", "")
    row.get_by_role("button", name="Expire").click()
    tab.page.wait_for_url(re.compile(r"/silences"))
    assert tab.page.locator("#silences-table tbody tr", has_text="replacing the disk").count() == 0
    assert not tab.errors


def test_bulk_acknowledge_then_take_it_back(tab: Page, served: Served) -> None:
    _write(served, [("bulk-probe", {"n": str(i)}, "firing", 1) for i in range(3)])
    tab.login("operator")
    tab.page.goto("/alerts?detector=bulk-probe")
    tab.page.get_by_label("Select all alerts on this page").check()
    assert tab.page.locator("#bulk-count").inner_text() == "3 selected:"
    tab.page.get_by_role("button", name="Acknowledge selected", exact=True).click()
    tab.page.locator(".flash.ok", has_text="Acknowledged 3 alerts.").wait_for()
    assert tab.page.locator("#alerts-table .state-acked").count() == 3
    assert "detector=bulk-probe" in tab.page.url  # back on the same filtered page
    tab.page.get_by_label(re.compile(r"Select alert \d+")).first.check()
    tab.page.get_by_role("button", name="Un-acknowledge selected").click()
    tab.page.locator(".flash.ok", has_text="Took back the acknowledgement of 1 alert.").wait_for()
    assert tab.page.locator("#alerts-table .state-acked").count() == 2
    assert not tab.errors
