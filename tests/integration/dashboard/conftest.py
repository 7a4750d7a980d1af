"""A signed-in dashboard test client and a small seeded world (alerts, a pending approval)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from app.alerts import service as alerts
from app.automation import bindings, registry
from app.automation.models import Binding, Execution
from app.reactions import react
from config.schema import BindingConfig
from detectors.findings import Finding
from remediations import parse_manifest

NOW = datetime.now(timezone.utc).replace(microsecond=0)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Web:
    """The Flask test client as a person in a browser: cookies, CSRF tokens from the pages."""

    def __init__(self, flask_client: Any, tokens: dict[str, str]) -> None:
        self.client = flask_client
        self.tokens = tokens

    def csrf(self) -> str:
        with self.client.session_transaction() as session:
            token = session.get("csrf")
        if token is None:
            token = _CSRF.search(self.client.get("/login").text).group(1)
        return str(token)

    def login(self, role: str) -> "Web":
        answer = self.client.post("/login", data={"token": self.tokens[role], "csrf_token": self.csrf()})
        assert answer.status_code == 302, answer.text
        return self

    def get(self, url: str) -> Any:
        return self.client.get(url)

    def post(self, url: str, data: dict[str, str] | None = None, *, csrf: bool = True) -> Any:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf())
        return self.client.post(url, data=form)


@dataclass(frozen=True)
class World:
    alert_id: int
    execution_id: int
    binding_id: int
    resolved_id: int


@pytest.fixture
def web(app: Any, tokens: dict[str, str]) -> Web:
    return Web(app.test_client(), tokens)


@pytest.fixture
def world(database: Any, config: Any) -> World:
    with database.write() as s:
        registry.register(
            s, manifest=parse_manifest({"name": "fix", "script": "#!/bin/sh\necho ok\n"}), by="seed", now=NOW
        )
        binding = bindings.create(
            s, spec=BindingConfig(name="fix-it", remediation="fix", mode="approve"), by="seed", now=NOW
        )
        resolved = _fire(s, config, {"instance": "old"}, NOW - timedelta(hours=3))
        alerts.apply(
            s,
            detector="cpu",
            severity="warning",
            static_labels={},
            findings=[Finding("threshold", {"instance": "old"}, "ok", value=1.0)],
            now=NOW - timedelta(hours=2),
        )
        alert_id = _fire(s, config, {"instance": "web-1", "team": "db"}, NOW - timedelta(minutes=5))
        execution = s.query(Execution).filter(Execution.alert_id == alert_id).one()
        binding_row = s.get(Binding, binding.id)
        binding_row.breaker_open = True
        return World(alert_id, execution.id, binding.id, resolved)


def _fire(session: Any, config: Any, labels: dict[str, str], at: datetime) -> int:
    finding = Finding(
        "threshold",
        labels,
        "firing",
        value=97.0,
        threshold=90.0,
        message="cpu 97 > 90",
        evidence={"t": [at.timestamp() - 60, at.timestamp()], "v": [50.0, 97.0], "above": 90.0},
    )
    transitions = alerts.apply(
        session, detector="cpu", severity="warning", static_labels={}, findings=[finding], now=at
    )
    react(session, transitions, now=at, config=config)
    return transitions[0].alert_id
