"""Shadow bindings: their report over the decisions they recorded, and promotion to auto."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.automation import bindings as binding_service
from app.automation.models import Binding, Execution
from app.db import utcnow
from app.errors import ConflictError
from app.events import Event, publish
from app.rehearsal import replay

_ACTION_OF_STATE = {"skipped": "skip", "shadow": "shadow"}


def report(session: Session, binding: Binding, *, since: datetime, until: datetime) -> dict[str, Any]:
    """The same shape as a rehearsal's, from the decisions the binding recorded live."""
    return {
        "binding": binding.name,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "mode": binding.mode,
        **replay.summarise(decisions(session, binding, since=since, until=until)),
    }


def decisions(session: Session, binding: Binding, *, since: datetime, until: datetime) -> Iterator[replay.Rehearsed]:
    """The binding's recorded decisions on alerts in the period, in order, as a rehearsal's."""
    e = Execution.__table__.c
    rows = session.execute(
        select(e.alert_id, e.queued_at, e.state, e.reason, e.fingerprint)
        .where(e.binding_id == binding.id, e.trigger == "alert", e.queued_at >= since, e.queued_at < until)
        .order_by(e.queued_at, e.id)
        .execution_options(yield_per=5000)
    )
    return (
        replay.Rehearsed(
            row.alert_id or 0,
            row.queued_at,
            row.fingerprint or "",
            _ACTION_OF_STATE.get(row.state, row.state),
            row.reason,
        )
        for row in rows
    )


def promote(session: Session, *, binding_id: int, by: str, since: datetime, until: datetime) -> Binding:
    """shadow -> auto in one step; the audit record carries what the shadow period showed."""
    binding = binding_service.get(session, binding_id)
    if binding.mode != "shadow":
        raise ConflictError(
            f"binding {binding.name!r} is in mode {binding.mode!r}, not shadow",
            {"mode": f"expected shadow, got {binding.mode}"},
        )
    shown = report(session, binding, since=since, until=until)
    binding.mode = "auto"
    publish(
        session,
        [
            Event(
                "binding.promote",
                utcnow(),
                actor=by,
                target=f"binding:{binding.name}",
                details={
                    "from": "shadow",
                    "to": "auto",
                    "since": shown["since"],
                    "until": shown["until"],
                    "shadow_report": {**shown["summary"], "busiest_hour": shown["busiest_hour"]},
                },
            )
        ],
    )
    return binding
