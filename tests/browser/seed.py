"""Data for the dashboard: written through the services into the database before Vigil starts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from app import database_for, migrate
from app.alerts import service as alerts
from app.auth import service as auth
from app.automation import bindings, registry
from app.automation.models import Execution
from app.reactions import react
from config.schema import BindingConfig, ChangePointAnalysis, Config, ThresholdAnalysis
from detectors.analysis import evaluate
from detectors.findings import Finding
from detectors.series import LabelledSeries
from remediations import parse_manifest

STEP_S = 15
POINTS = 240
SCRIPT = (
    '#!/bin/sh\n# Restart the service named in the alert labels.\nread -r context\necho "restarting $VIGIL_ALERT_ID"\n'
)


@dataclass(frozen=True)
class Seeded:
    tokens: dict[str, str]
    change_alert: int  # firing, change point evidence, an execution awaiting approval
    threshold_alert: int  # firing, threshold evidence, an execution awaiting approval
    resolved_alert: int
    pending_execution: int  # of change_alert
    other_execution: int  # of threshold_alert


def latency_csv(path: Path, now: datetime) -> tuple[np.ndarray, np.ndarray]:
    """An API latency series that steps from ~100 ms to ~250 ms near the end of the window."""
    rng = np.random.default_rng(7)
    t = now.timestamp() - STEP_S * np.arange(POINTS)[::-1]
    v = np.where(np.arange(POINTS) < 200, 100.0, 250.0) + rng.normal(0, 6, POINTS)
    path.write_text("timestamp,value\n" + "".join(f"{int(a)},{b:.3f}\n" for a, b in zip(t, v)))
    return t, v


def cpu_series(now: datetime) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    t = now.timestamp() - STEP_S * np.arange(POINTS)[::-1]
    v = np.clip(55 + np.cumsum(rng.normal(0.18, 1.2, POINTS)), 0, 100)
    v[-30:] = 93 + rng.normal(0, 1.5, 30)
    return t, v


def seed(config: Config, csv_path: Path, now: datetime) -> Seeded:
    database = database_for(config)
    migrate.upgrade(database)
    tokens: dict[str, str] = {}
    with database.write() as s:
        for role in auth.ROLES:
            _row, tokens[role] = auth.create(s, name=f"{role}-token", role=role, by="seed")
        row, tokens["revoked"] = auth.create(s, name="old-token", role="operator", by="seed")
        auth.revoke(s, token_id=row.id, by="seed")
        registry.register(
            s,
            manifest=parse_manifest(
                {"name": "restart-api", "script": SCRIPT, "description": "restart the API service"}
            ),
            by="admin-token",
            now=now - timedelta(days=2),
        )
        bindings.create(
            s,
            spec=BindingConfig(name="api-restart", remediation="restart-api", mode="approve", severities=["critical"]),
            by="admin-token",
            now=now - timedelta(days=2),
        )
    _history(database, now)
    t, v = latency_csv(csv_path, now)
    change = _fire(
        database,
        config,
        "api-latency",
        "critical",
        {"service": "api", "env": "prod"},
        evaluate(
            LabelledSeries.from_arrays({}, t, v), ChangePointAnalysis(type="changepoint"), now=now, name="latency_ms"
        ),
        now,
    )
    t2, v2 = cpu_series(now)
    threshold = _fire(
        database,
        config,
        "cpu-high",
        "critical",
        {"instance": "web-3", "env": "prod"},
        evaluate(
            LabelledSeries.from_arrays({}, t2, v2),
            ThresholdAnalysis.model_validate({"type": "threshold", "above": 90}),
            now=now,
            name="cpu_percent",
        ),
        now,
    )
    with database.read() as s:
        ids = {e.alert_id: e.id for e in s.query(Execution).filter(Execution.state == "awaiting_approval")}
        resolved = alerts.search(s, alerts.AlertQuery(states=("resolved",), limit=1))[0].id
    database.dispose()
    return Seeded(tokens, change, threshold, resolved, ids[change], ids[threshold])


def _fire(
    database: Any, config: Config, detector: str, severity: str, labels: dict[str, str], finding: Finding, now: datetime
) -> int:
    assert finding.state == "firing", finding.message  # the seed series are built to fire
    with database.write() as s:
        transitions = alerts.apply(
            s,
            detector=detector,
            severity=severity,
            static_labels={"team": "platform"},
            findings=[replace(finding, labels=labels)],
            now=now,
        )
        react(s, transitions, now=now, config=config)
        return transitions[0].alert_id


def _history(database: Any, now: datetime) -> None:
    """Older alerts, resolved and still firing, enough for two pages of history."""
    with database.write() as s:
        for i in range(90):
            at = now - timedelta(hours=90 - i)
            labels = {"instance": f"web-{i % 7}", "env": "prod" if i % 3 else "staging"}
            severity = ("info", "warning", "critical")[i % 3]
            detector = ("disk-full", "api-errors", "queue-depth")[i % 3]
            finding = Finding(
                "threshold",
                labels,
                "firing",
                value=91.0 + i % 5,
                threshold=90.0,
                message=f"{detector} {91 + i % 5} > 90",
            )
            alerts.apply(s, detector=detector, severity=severity, static_labels={}, findings=[finding], now=at)
            if i % 4:  # three in four resolve after a while
                ok = Finding("threshold", labels, "ok", value=42.0, threshold=90.0, message="back to normal")
                alerts.apply(
                    s,
                    detector=detector,
                    severity=severity,
                    static_labels={},
                    findings=[ok],
                    now=at + timedelta(minutes=5 + i % 50),
                )


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)
