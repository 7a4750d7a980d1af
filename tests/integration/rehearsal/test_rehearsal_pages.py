"""The dashboard's binding page (rehearsal timeline, shadow record) and detector page (actual vs
rehearsed alerts against a real Prometheus), with sessions, CSRF and roles as a browser has them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.alerts.models import Alert
from app.automation import bindings, registry
from app.automation.models import Execution
from config.schema import BindingConfig
from remediations import parse_manifest
from tests.conftest import make_config
from tests.integration.rehearsal.history import NOW as PROM_NOW
from tests.integration.rehearsal.history import START

NOW = datetime.now(timezone.utc).replace(microsecond=0)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """The Flask test client signed in with a token; forms carry the session's CSRF token."""

    def __init__(self, app: Any, token: str) -> None:
        self.client = app.test_client()
        csrf = _CSRF.search(self.client.get("/login").text).group(1)
        assert self.client.post("/login", data={"token": token, "csrf_token": csrf}).status_code == 302

    def csrf(self) -> str:
        with self.client.session_transaction() as session:
            return str(session["csrf"])

    def post(self, url: str, data: dict[str, str], *, csrf: bool = True) -> Any:
        return self.client.post(url, data={**data, **({"csrf_token": self.csrf()} if csrf else {})})


def _seed(database: Any) -> tuple[int, int]:
    """Alerts every 10 minutes for 6 hours on two instances; an auto and a shadow binding."""
    with database.write() as s:
        registry.register(
            s,
            manifest=parse_manifest({"name": "fix", "script": "#!/bin/sh\ntrue\n"}),
            by="test",
            now=NOW - timedelta(days=2),
        )
        auto = bindings.create(
            s,
            spec=BindingConfig(
                name="fix-cpu",
                remediation="fix",
                detector="cpu",
                mode="auto",
                cooldown=3600,
                rate_limit=100,
                rate_window=3600,
            ),
            by="test",
            now=NOW - timedelta(days=2),
        )
        shadow = bindings.create(
            s,
            spec=BindingConfig(name="fix-shadow", remediation="fix", mode="shadow"),
            by="test",
            now=NOW - timedelta(days=2),
        )
        start = NOW - timedelta(hours=7)
        for i in range(36):
            at = start + timedelta(minutes=10 * i)
            instance = f"web-{i % 2}"
            s.add(
                Alert(
                    fingerprint=f"fp-{instance}",
                    detector="cpu",
                    labels={"instance": instance},
                    severity="critical",
                    state="resolved",
                    kind="threshold",
                    started_at=at,
                    fired_at=at,
                    resolved_at=at + timedelta(minutes=5),
                    last_seen_at=at,
                )
            )
        for i, (state, reason) in enumerate(
            [
                ("shadow", "shadow: would run (all checks passed)"),
                ("skipped", "skipped: cooldown (last run 60s ago, cooldown 300s)"),
                ("skipped", "skipped: cooldown (last run 120s ago, cooldown 300s)"),
            ]
        ):
            s.add(
                Execution(
                    remediation="fix",
                    version=1,
                    version_hash="h",
                    binding_id=shadow.id,
                    fingerprint="fp-x",
                    state=state,
                    reason=reason,
                    trigger="alert",
                    triggered_by="binding:fix-shadow",
                    params={},
                    output="",
                    truncated=False,
                    queued_at=NOW - timedelta(hours=3, minutes=-i),
                )
            )
        return auto.id, shadow.id


def test_an_operator_rehearses_a_binding_and_sees_its_timeline(app: Any, database: Any, tokens: dict[str, str]) -> None:
    auto_id, _shadow = _seed(database)
    listing = Browser(app, tokens["viewer"]).client.get("/remediations/fix").text
    assert f'href="/bindings/{auto_id}"' in listing  # the bindings table links each binding's page

    viewer = Browser(app, tokens["viewer"])
    page = viewer.client.get(f"/bindings/{auto_id}")
    assert page.status_code == 200 and "Rehearsing needs the operator role" in page.text
    assert viewer.post(f"/bindings/{auto_id}/rehearse", {"since": "1d"}).status_code == 403

    operator = Browser(app, tokens["operator"])
    assert operator.post(f"/bindings/{auto_id}/rehearse", {"since": "1d"}, csrf=False).status_code == 400
    done = operator.post(f"/bindings/{auto_id}/rehearse", {"since": "1d"})
    assert done.status_code == 200, done.text
    html = done.text
    # Each instance fires every 20 minutes for 5h40m: one run an hour (the cooldown), 6 each.
    assert re.search(r'id="rehearsal-runs">(\d+)<', html).group(1) == "12"
    assert re.search(r'id="rehearsal-skipped">(\d+)<', html).group(1) == "24"
    assert 'data-row="run"' in html and 'data-row="cooldown"' in html
    assert 'would run <span class="row-total">12</span>' in html and "cooldown 24" in html
    assert html.count('class="mark lvl') >= 2

    bad = operator.post(f"/bindings/{auto_id}/rehearse", {"since": "soon"})
    assert bad.status_code == 400 and "since:" in bad.text and 'id="rehearsal-error"' in bad.text
    assert operator.client.get("/bindings/999").status_code == 404


def test_a_shadow_binding_shows_what_it_recorded(app: Any, database: Any, tokens: dict[str, str]) -> None:
    _auto, shadow_id = _seed(database)
    page = Browser(app, tokens["viewer"]).client.get(f"/bindings/{shadow_id}?since=1d")
    assert page.status_code == 200, page.text
    assert re.search(r'id="shadow-runs">(\d+)<', page.text).group(1) == "1"
    assert re.search(r'id="shadow-skipped">(\d+)<', page.text).group(1) == "2"
    assert 'data-row="shadow"' in page.text and 'data-row="cooldown"' in page.text
    bad = Browser(app, tokens["viewer"]).client.get(f"/bindings/{shadow_id}?since=later")
    assert bad.status_code == 400 and 'id="rehearsal-error"' in bad.text


@pytest.fixture
def prom_app(tmp_path: Path, database: Any, database_url: str, prometheus: str) -> Iterator[Any]:
    config = make_config(
        tmp_path,
        database_url,
        sources=[
            {"type": "prometheus", "name": "prom", "url": prometheus},
            {"type": "prometheus", "name": "down", "url": "http://127.0.0.1:9", "timeout_s": 2},
        ],
        detectors=[
            {
                "name": "rh",
                "source": "prom",
                "query": "vigil_rh",
                "interval": "5m",
                "window": "15m",
                "analysis": {"type": "threshold", "above": 90},
            },
            {"name": "gone", "source": "down", "query": "x", "analysis": {"type": "threshold", "above": 1}},
        ],
    )
    application = create_app(config)
    yield application
    application.extensions["vigil.db"].dispose()


@pytest.mark.slow
def test_the_detector_page_sets_rehearsed_alerts_beside_actual_ones(
    prom_app: Any, database: Any, tokens: dict[str, str]
) -> None:
    fired = START + timedelta(hours=10, minutes=5)
    with database.write() as s:
        s.add(
            Alert(
                fingerprint=_fp(),
                detector="rh",
                labels={"__name__": "vigil_rh", "series": "a"},
                severity="warning",
                state="resolved",
                kind="threshold",
                started_at=fired,
                fired_at=fired,
                resolved_at=START + timedelta(hours=12),
                last_seen_at=fired,
            )
        )
    listing = Browser(prom_app, tokens["viewer"]).client.get("/detectors").text
    assert 'href="/detectors/rh"' in listing
    viewer = Browser(prom_app, tokens["viewer"])
    assert "Rehearsing needs the operator role" in viewer.client.get("/detectors/rh").text
    assert viewer.post("/detectors/rh/rehearse", {"since": "2d"}).status_code == 403

    operator = Browser(prom_app, tokens["operator"])
    period = {"since": START.isoformat(), "until": PROM_NOW.isoformat()}
    done = operator.post("/detectors/rh/rehearse", {**period, "changes": "analysis: {type: threshold, above: 70}"})
    assert done.status_code == 200, done.text
    html = done.text
    assert re.search(r'id="count-rehearsed">(\d+)<', html).group(1) == "2"
    assert re.search(r'id="count-actual">(\d+)<', html).group(1) == "1"
    assert re.search(r'id="count-added">(\d+)<', html).group(1) == "1"
    assert 'data-change="same"' in html and 'data-change="added"' in html
    [chart] = json.loads(re.search(r'id="rehearsal-data">(.*?)</script>', html, re.S).group(1))
    assert len(chart["bands"]["actual"]) == 1 and len(chart["bands"]["rehearsed"]) == 2
    assert {line["label"] for line in chart["thresholds"]} == {"rehearsed above", "configured above"}
    assert 100 < len(chart["t"]) <= 2400 and max(v for v in chart["v"] if v is not None) == 95.0  # the spike kept

    bad = operator.post("/detectors/rh/rehearse", {"since": "2d", "changes": "analysis: [1"})
    assert bad.status_code == 400 and "changes: not YAML" in bad.text
    invalid = operator.post("/detectors/rh/rehearse", {"since": "2d", "changes": "interval: soon"})
    assert invalid.status_code == 400 and "interval" in invalid.text
    down = operator.post("/detectors/gone/rehearse", {"since": "1h"})
    assert down.status_code == 502 and "source &#39;down&#39; could not answer" in down.text
    assert operator.client.get("/detectors/nope").status_code == 404


def _fp() -> str:
    from detectors.lifecycle import fingerprint

    return fingerprint("rh", {"__name__": "vigil_rh", "series": "a"})
