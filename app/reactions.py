"""What follows an alert transition, in the same transaction: automation decisions and
the events that notify (published through app.events). A silenced alert is still recorded, but neither notifies nor
remediates; its skipped decisions name the silence. Detector jobs and inbound webhooks
both come through here, so every alert source gets the same treatment."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.alerts.service import Transition
from app.automation import service as automation
from app.diagnostics import service as diagnostics
from app.events import Event, publish
from app.silences import service as silences
from config.schema import Config


def react(session: Session, transitions: Iterable[Transition], *, now: datetime, config: Config) -> int:
    """Returns how many executions were queued to run now (the caller dispatches them)."""
    queued = 0
    for t in transitions:
        alert = session.get(Alert, t.alert_id)
        if alert is None or t.event not in ("firing", "resolved"):
            continue  # pending and cancelled are recorded, never announced
        silence = silences.silenced_by(session, {**alert.labels, "detector": alert.detector}, now)
        if silence is not None:
            publish(
                session,
                [Event("alert.silenced", now, alert=alert, details={"silence_id": silence.id, "event": t.event})],
            )
        else:
            publish(
                session,
                [Event("alert.announced", now, alert=alert, details={"event": f"alert.{t.event}"})],
                config=config,
            )
        if t.event == "resolved":
            automation.on_resolved(session, alert, now=now, config=config)
            continue
        diagnostics.on_firing(session, config, alert, now=now)  # one queued row; run off this path
        if alert.kind in ("error", "nodata"):
            continue  # a detector that cannot see says so; what it watches is not known to be broken
        silenced_by = f"silence {silence.id}" if silence else None
        for execution in automation.on_firing(session, alert, now=now, silenced_by=silenced_by):
            queued += execution.state == "queued"
            if execution.state == "awaiting_approval":
                publish(session, [Event("approval.requested", now, execution=execution)], config=config)
    return queued
