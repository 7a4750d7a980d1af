"""Reading the outbox for people (page, API, CSV) and sending a failed row again.

The sender (app.notify.sender) owns delivery; a retry only puts a failed row back to
pending, due now, with a fresh give-up deadline, and the sender takes it on its next pass.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.db import get_or_404, iso
from app.errors import ConflictError
from app.events import Event, publish
from app.notify.models import OutboxMessage
from config.schema import Config
from config.vocabulary import OUTBOX_STATES, OutboxState

STATES = OUTBOX_STATES
COLUMNS = (
    "id",
    "channel",
    "event",
    "alert_id",
    "severity",
    "state",
    "attempts",
    "created_at",
    "not_before",
    "sent_at",
    "last_status",
    "last_error",
)


def conditions(*, state: str = "", channel: str = "", event: str = "", alert_id: int | None = None) -> list[Any]:
    """WHERE clauses of a filtered outbox list (page, API and CSV use the same)."""
    found: list[Any] = []
    for column, value in (
        (OutboxMessage.state, state),
        (OutboxMessage.channel, channel),
        (OutboxMessage.event, event),
        (OutboxMessage.alert_id, alert_id),
    ):
        if value:
            found.append(column == value)
    return found


def as_dict(row: OutboxMessage) -> dict[str, Any]:
    """A row as the API answers it (no payload: it repeats the alert and may be large)."""
    return {c: iso(v) if isinstance(v, datetime) else v for c in COLUMNS for v in [getattr(row, c)]}


def retry(session: Session, config: Config, *, message_id: int, by: str, now: datetime) -> OutboxMessage:
    """A failed row goes back to pending, due now; audited as notification.retry.

    Raises:
        NotFoundError: no such row.
        ConflictError: the row has not failed, or its channel is no longer configured.
    """
    row = get_or_404(session, OutboxMessage, message_id, "notification")
    if row.state != OutboxState.FAILED:
        raise ConflictError(f"notification {message_id} is {row.state}; only a failed one can be retried")
    channel = next((c for c in config.channels if c.name == row.channel), None)
    if channel is None:
        raise ConflictError(f"notification {message_id}: channel {row.channel!r} is no longer configured")
    row.state, row.not_before = OutboxState.PENDING, now
    row.give_up_at = now + timedelta(seconds=channel.give_up_after_s)
    publish(
        session,
        [
            Event(
                "notification.retry",
                now,
                actor=by,
                target=f"notification:{message_id}",
                details={
                    "channel": row.channel,
                    "event": row.event,
                    "attempts": row.attempts,
                    "last_status": row.last_status,
                },
            )
        ],
    )
    return row
