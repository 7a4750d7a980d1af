"""POST /api/v1/bindings/rehearse and `vigil rehearse` over alerts stored in the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from app.alerts.models import Alert
from app.automation import registry
from remediations import parse_manifest

NOW = datetime.now(timezone.utc).replace(microsecond=0)
BINDING = {
    "name": "restart-web",
    "remediation": "fix",
    "detector": "cpu",
    "mode": "auto",
    "cooldown": "1h",
    "rate_limit": 2,
    "rate_window": "1h",
}


def _store(database: Any) -> None:
    """Alerts every 10 minutes, three hours ago, on two instances; one of another detector."""
    with database.write() as session:
        registry.register(
            session,
            manifest=parse_manifest({"name": "fix", "script": "#!/bin/sh\ntrue\n"}),
            by="test",
            now=NOW - timedelta(days=1),
        )
        start = NOW.replace(minute=0, second=0) - timedelta(hours=3)  # the two runs fall in one hour
        for i in range(6):
            at = start + timedelta(minutes=10 * i)
            instance = f"web-{i % 2}"
            session.add(
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
        session.add(
            Alert(
                fingerprint="other",
                detector="disk",
                labels={},
                severity="critical",
                state="firing",
                kind="threshold",
                started_at=start,
                fired_at=start,
                last_seen_at=start,
            )
        )


def test_it_answers_runs_skips_counts_per_day_and_the_busiest_hour(client: Any, database: Any) -> None:
    _store(database)
    r = client.as_("operator").post("/api/v1/bindings/rehearse", json={**BINDING, "since": "1d"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["summary"]["runs"] == 2 and body["summary"]["skipped"] == 4
    assert body["summary"]["skipped_by_guard"] == {"cooldown": 4}
    assert [run["reason"] for run in body["runs"]] == ["run: all checks passed"] * 2
    assert sum(day["runs"] for day in body["per_day"]) == 2
    assert body["busiest_hour"]["runs"] == 2
    assert "outcome" in body["assumptions"]


def test_it_refuses_a_bad_binding_or_period_with_the_error_shape(client: Any, database: Any) -> None:
    op = client.as_("operator")
    r = op.post("/api/v1/bindings/rehearse", json={**BINDING, "rate_limit": 0})
    assert r.status_code == 400 and "rate_limit" in json.dumps(r.get_json()["errors"])
    r = op.post("/api/v1/bindings/rehearse", json={**BINDING, "since": "last tuesday"})
    assert r.status_code == 400 and "since" in r.get_json()["errors"]
    r = op.post("/api/v1/bindings/rehearse", json={**BINDING, "since": "1h", "until": "2h"})
    assert r.status_code == 400 and "since" in r.get_json()["errors"]
    r = op.post("/api/v1/bindings/rehearse", json={**BINDING, "since": "99999999999d"})
    assert r.status_code == 400 and "since" in r.get_json()["errors"]
    r = op.post("/api/v1/bindings/rehearse", json={**BINDING, "since": 5})
    assert r.status_code == 400 and "since" in r.get_json()["errors"]
    r = op.post("/api/v1/bindings/rehearse", json=[1, 2])
    assert r.status_code == 400 and r.get_json()["errors"]


def test_it_needs_the_operator_role(client: Any, database: Any) -> None:
    assert client.as_("viewer").post("/api/v1/bindings/rehearse", json=BINDING).status_code == 403
    assert client.as_(None).post("/api/v1/bindings/rehearse", json=BINDING).status_code == 401


def test_it_rehearses_from_the_command_line(database: Any, database_url: str, tmp_path: Path) -> None:
    _store(database)
    binding = tmp_path / "binding.yaml"
    binding.write_text("name: restart-web\nremediation: fix\ndetector: cpu\nmode: auto\ncooldown: 1h\n")
    config = tmp_path / "vigil.yaml"
    config.write_text(f"settings:\n  data_dir: {tmp_path / 'data'}\n  database_url: {database_url}\n")
    done = subprocess.run(
        [sys.executable, "-m", "app", "rehearse", "--config", str(config), "--binding", str(binding), "--since", "30d"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["runs"] == 2
    binding.write_text("name: restart-web\nremediation: fix\nrate_limit: 0\n")
    done = subprocess.run(
        [sys.executable, "-m", "app", "rehearse", "--config", str(config), "--binding", str(binding)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])},
    )
    assert done.returncode == 2 and "rate_limit" in done.stderr
