"""Vigil served on loopback with threaded Slack and Mattermost channels (loopback fakes), a
generic webhook, the real dispatcher and sender: what chat tests drive.

Everything runs on the real clock, as the scheduler would; the test calls `send()` where
the scheduler's sender threads would run.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select
from werkzeug.serving import make_server

from app import create_app
from app.alerts import service as alerts
from app.audit.models import AuditRecord
from app.automation import bindings, registry
from app.automation.dispatch import Dispatcher
from app.automation.models import Execution
from app.notify.sender import Sender
from app.reactions import react
from config.schema import BindingConfig
from detectors.findings import Finding
from remediations import parse_manifest
from remediations.backends.inline import InlineBackend
from tests.conftest import make_config
from tests.integration.notify.chat_fakes import FakeMattermost, FakeSlack

SIGNING_SECRET = "slack-signing-secret-0123456789"
ACTION_SECRET = "mattermost-action-secret-0123456789"
OPERATOR, VIEWER, STRANGER = "U0ALICE", "U0VICTOR", "U0MALLORY"
MM_OPERATOR, MM_VIEWER = "mmuseralice000000000000001", "mmuservictor00000000000002"
GENERIC_SECRET = "0123456789abcdef-secret"


class _Late:
    """A WSGI app set after the server is bound (its URL goes into the app's config)."""

    app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


class ChatVigil:
    def __init__(
        self,
        tmp_path: Path,
        database: Any,
        database_url: str,
        slack: FakeSlack,
        mattermost: FakeMattermost,
        generic_url: str | None = None,
        sections: dict[str, Any] | None = None,
        **channel_overrides: Any,
    ) -> None:
        self.database, self.slack, self.mattermost = database, slack, mattermost
        late = _Late()
        self.server = make_server("127.0.0.1", 0, late, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        channels: list[dict[str, Any]] = [
            {
                "type": "slack",
                "name": "ops-slack",
                "token": slack.token,
                "channel": slack.channel_id,
                "api_url": slack.api_url,
                "signing_secret": SIGNING_SECRET,
                "group_wait_s": 0,
                "approvers": {
                    OPERATOR: {"name": "alice", "role": "operator"},
                    VIEWER: {"name": "victor", "role": "viewer"},
                },
                **channel_overrides,
            },
            {
                "type": "mattermost",
                "name": "ops-mm",
                "token": mattermost.token,
                "channel": mattermost.channel_id,
                "api_url": mattermost.api_url,
                "action_secret": ACTION_SECRET,
                "group_wait_s": 0,
                "approvers": {
                    MM_OPERATOR: {"name": "alice", "role": "admin"},
                    MM_VIEWER: {"name": "victor", "role": "viewer"},
                },
            },
        ]
        if generic_url:
            channels.append(
                {"type": "generic", "name": "bridge", "url": generic_url, "secret": GENERIC_SECRET, "group_wait_s": 0}
            )
        self.config = make_config(
            tmp_path,
            database_url,
            channels=channels,
            settings={"public_url": self.url, "automation": {"verify_window_s": 60}},
            **(sections or {}),
        )
        self.app = late.app = create_app(self.config)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        self.backend = InlineBackend(2)
        self.dispatcher = Dispatcher(
            database, self.backend, self.config, holder="test", scripts_dir=tmp_path / "scripts", environ={}
        )
        self.sender = Sender(database, self.config.channels, public_url=self.url)
        self.t0 = datetime.now(timezone.utc)

    def close(self) -> None:
        self.server.shutdown()
        self._thread.join(5)
        self.backend.shutdown(wait=True)
        self.app.extensions["vigil.db"].dispose()

    # ---- automation -------------------------------------------------------------

    def register(self, name: str, script: str = "#!/bin/sh\necho fixed it\n") -> None:
        with self.database.write() as session:
            registry.register(
                session, manifest=parse_manifest({"name": name, "script": script}), by="test", now=self.t0
            )

    def bind(self, name: str, remediation: str, mode: str, **fields: Any) -> None:
        spec = BindingConfig.model_validate({"name": name, "remediation": remediation, "mode": mode, **fields})
        with self.database.write() as session:
            bindings.create(session, spec=spec, by="test", now=self.t0)

    def alert(self, detector: str, state: str = "firing", labels: dict[str, str] | None = None) -> None:
        now = datetime.now(timezone.utc)
        with self.database.write() as session:
            transitions = alerts.apply(
                session,
                detector=detector,
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
            queued = react(session, transitions, now=now, config=self.config)
        if queued:
            self.dispatcher.dispatch()

    def executions(self) -> list[Execution]:
        with self.database.read() as session:
            return list(session.scalars(select(Execution).order_by(Execution.id)))

    def audit(self, action: str) -> list[AuditRecord]:
        with self.database.read() as session:
            return list(session.scalars(select(AuditRecord).where(AuditRecord.action == action)))

    def settle(self, timeout_s: float = 30) -> None:
        """Run queued executions to their end and send every message due."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.dispatcher.dispatch()
            if not any(e.state in ("queued", "dispatched", "running") for e in self.executions()):
                self.send()
                return
            time.sleep(0.05)
        raise AssertionError(f"executions still busy: {[(e.id, e.state) for e in self.executions()]}")

    def send(self) -> None:
        # Later than any group_wait, on the real clock's side of every row.
        self.sender.run_once(datetime.now(timezone.utc) + timedelta(seconds=1))


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
