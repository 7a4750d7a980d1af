"""Real scripts run by the real dispatcher and inline backend against the test database."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from app.alerts import service as alerts
from app.automation import bindings, registry
from app.automation.dispatch import Dispatcher
from app.automation.models import Execution
from app.reactions import react
from config.loader import from_dict
from config.schema import BindingConfig
from detectors.findings import Finding
from remediations import parse_manifest
from remediations.backends.inline import InlineBackend

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)  # registration times
ECHO = "#!/bin/sh\ncat\necho done\n"


class Automation:
    def __init__(self, database: Any, tmp_path: Path, channels: list[dict[str, Any]] | None = None) -> None:
        self.database = database
        # Alerts fire on this clock and scripts start on the real one: they must agree, or runs
        # would start after their alert resolved and approvals would be long expired.
        self.t0 = datetime.now(timezone.utc)
        self.backend = InlineBackend(4)
        self.config = from_dict({"settings": {"automation": {"verify_window_s": 60}}, "channels": channels or []}, {})
        self.dispatcher = Dispatcher(
            database,
            self.backend,
            self.config,
            holder="test",
            scripts_dir=tmp_path / "scripts",
            environ={"ALLOWED_TOKEN": "t0k"},
        )

    def register(self, name: str = "fix", script: str = ECHO, **fields: Any) -> None:
        with self.database.write() as session:
            registry.register(
                session, manifest=parse_manifest({"name": name, "script": script, **fields}), by="test", now=T0
            )

    def bind(self, **fields: Any) -> int:
        spec = BindingConfig.model_validate({"name": "b", "remediation": "fix", "mode": "auto", **fields})
        with self.database.write() as session:
            return bindings.create(session, spec=spec, by="test", now=T0).id

    def fire(self, minute: float = 0, state: str = "firing", labels: dict[str, str] | None = None) -> int:
        queued = self.decide(minute, state, labels)
        if queued:
            self.dispatcher.dispatch()
        return queued

    def decide(self, minute: float = 0, state: str = "firing", labels: dict[str, str] | None = None) -> int:
        """An alert transition and its decisions, without dispatching what they queued."""
        now = self.t0 + timedelta(minutes=minute)
        with self.database.write() as session:
            transitions = alerts.apply(
                session,
                detector="cpu",
                severity="critical",
                static_labels={},
                findings=[
                    Finding(
                        kind="threshold",
                        labels=labels or {"instance": "web-1"},
                        state=state,
                        value=97.0,
                        threshold=90.0,
                    )
                ],
                now=now,
            )
            return react(session, transitions, now=now, config=self.config)

    def minute_now(self) -> float:
        """The real clock on the alerts' timeline, in minutes."""
        return (datetime.now(timezone.utc) - self.t0).total_seconds() / 60

    def resolve(self, minute: float, labels: dict[str, str] | None = None) -> None:
        self.fire(minute, state="ok", labels=labels)

    def executions(self) -> list[Execution]:
        from sqlalchemy import select

        with self.database.read() as session:
            return list(session.scalars(select(Execution).order_by(Execution.id)))

    def wait_idle(self, timeout_s: float = 20) -> list[Execution]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            rows = self.executions()
            if not any(r.state in ("queued", "running") for r in rows):
                return rows
            self.dispatcher.dispatch()
            time.sleep(0.05)
        raise AssertionError(f"executions still busy: {[(r.id, r.state) for r in self.executions()]}")


@pytest.fixture
def auto(database: Any, tmp_path: Path) -> Any:
    automation = Automation(database, tmp_path)
    yield automation
    automation.backend.shutdown(wait=True)
