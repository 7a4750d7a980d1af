"""Drain the outbox: group due rows, render once per group, send, retry with backoff.

Runs in the scheduler process while it holds the lease, so exactly one sender works at a
time and a slow webhook never blocks detection, remediation or any API request. Each
channel has its own thread (`start`): a channel that hangs until its timeout holds up
only its own messages, never another channel's nor the inbox.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Callable

import requests
from sqlalchemy import Exists, exists, select, update
from sqlalchemy.orm import aliased

from app import metrics
from app.db import Database, utcnow
from app.notify import service, threads
from app.notify.delivery import Delivery
from app.notify.models import OutboxMessage
from app.notify.render import render
from app.notify.transport import next_attempt_at, send
from config.channels import ChannelConfig
from config.vocabulary import UNSENT_STATES, OutboxState

log = logging.getLogger("vigil.notify")

POLL_S = 0.2  # how often an idle channel looks for due rows (a read, no write lock)
MAX_PASSES = 10  # claims per run_channel while each pass sends everything it claimed


def idempotency_key(rows: Sequence[OutboxMessage]) -> str:
    """The key a receiver drops duplicates by: the outbox row's id.

    A grouped message is keyed by its first row and its size ("17.3"): a group only ever
    grows between attempts, so a retry that picked up more alerts is a new message.
    """
    first = str(rows[0].id)
    return first if len(rows) == 1 else f"{first}.{len(rows)}"


def _behind_earlier_row() -> Exists:
    """A row waits while an earlier row about the same alert on the same channel is unsent.

    Messages about one alert then arrive in event order: "Approval requested" and
    "Remediation succeeded" (sent at once) no longer overtake "Firing" (held back by
    group_wait), and a thread reply never comes before the message it replies to. A row
    that failed for good no longer holds the others back.
    """
    earlier = aliased(OutboxMessage)
    return exists().where(
        earlier.alert_id == OutboxMessage.alert_id,
        earlier.channel == OutboxMessage.channel,
        earlier.id < OutboxMessage.id,
        earlier.state.in_(UNSENT_STATES),
    )


class Sender:
    """Sends the outbox's due rows, a group per message and a thread per channel; each attempt's outcome
    goes on its rows: sent, pending again after a backoff, or failed."""

    def __init__(
        self,
        database: Database,
        channels: Sequence[ChannelConfig],
        *,
        batch: int = 200,
        rng: random.Random | None = None,
        public_url: str | None = None,
    ) -> None:
        self.database, self.batch = database, batch
        # Where Mattermost sends button presses (Slack's Request URL is set in the Slack app).
        self.actions_url = f"{public_url.rstrip('/')}/api/v1/chat/mattermost/actions" if public_url else None
        self.channels = {c.name: c for c in channels}
        self.rng = rng or random.Random()
        # requests.Session is not thread-safe: one per channel, used only by its thread.
        self._http = {name: requests.Session() for name in self.channels}
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()

    def recover(self) -> int:
        """Rows a crashed sender left mid-send go back to pending (at-least-once after a crash);
        rows of channels no longer configured fail, saying so. Returns how many went back."""
        with self._lock:
            busy = list(self._in_flight)  # still being sent by this process: not abandoned
        with self.database.write() as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.state.in_(UNSENT_STATES), OutboxMessage.channel.not_in(list(self.channels)))
                .values(state=OutboxState.FAILED, last_error="the channel is no longer configured")
            )
            if result.rowcount:  # type: ignore[attr-defined]
                log.warning(
                    "outbox rows failed: their channel is no longer configured",
                    extra={"rows": result.rowcount},  # type: ignore[attr-defined]
                )
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.state == OutboxState.SENDING, OutboxMessage.id.not_in(busy))
                .values(state=OutboxState.PENDING)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def start(self, stop: threading.Event, active: Callable[[], bool]) -> list[threading.Thread]:
        """One daemon thread per channel, sending while `active()` (the lease is held)."""
        threads = [
            threading.Thread(target=self._loop, args=(name, stop, active), name=f"vigil-notify-{name}", daemon=True)
            for name in self.channels
        ]
        for thread in threads:
            thread.start()
        return threads

    def _loop(self, name: str, stop: threading.Event, active: Callable[[], bool]) -> None:
        while not stop.wait(POLL_S):
            if not active():
                continue
            try:
                self.run_channel(name)
            except Exception:  # the database may be away; the rows wait in the outbox
                log.exception("channel sender pass failed", extra={"channel": name})

    def run_once(self, now: datetime | None = None) -> int:
        """Send every due group of every channel once, in this thread; returns how many groups."""
        return sum(self.run_channel(name, now) for name in self.channels)

    def run_channel(self, name: str, now: datetime | None = None) -> int:
        """Send the channel's due groups once. `now` fixes the clock (tests); by default each
        outcome is judged at the time the attempt ended, so a timeout's wait is not lost."""
        sent = 0
        # Rows held behind an earlier one about the same alert become due once it is sent:
        # claim again at once, but never after a failure (its retry waits its backoff).
        for _ in range(MAX_PASSES):
            groups = self._claim(name, now or utcnow())
            all_ok = True
            for rows in groups:
                try:
                    all_ok = self._deliver(self.channels[name], rows, now) and all_ok
                finally:
                    with self._lock:
                        self._in_flight.difference_update(r.id for r in rows)
            sent += len(groups)
            if not groups or not all_ok:
                break
        return sent

    def _claim(self, name: str, now: datetime) -> list[list[OutboxMessage]]:
        due = (
            OutboxMessage.channel == name,
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.not_before <= now,
            ~_behind_earlier_row(),
        )
        with self.database.read() as session:  # most passes find nothing: no write lock for them
            if session.scalar(select(OutboxMessage.id).where(*due).limit(1)) is None:
                return []
        with self.database.write() as session:
            rows = session.scalars(select(OutboxMessage).where(*due).order_by(OutboxMessage.id).limit(self.batch)).all()
            groups: dict[str, list[OutboxMessage]] = defaultdict(list)
            for row in rows:
                groups[row.group_key].append(row)
            if rows:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([r.id for r in rows]))
                    .values(state=OutboxState.SENDING)
                )
                with self._lock:
                    self._in_flight.update(r.id for r in rows)
            return list(groups.values())

    def _deliver(self, channel: ChannelConfig, rows: list[OutboxMessage], now: datetime | None) -> bool:
        try:
            if channel.threaded:
                delivery = threads.deliver(
                    self.database,
                    channel,
                    rows,
                    http=self._http[channel.name],
                    now=now or utcnow(),
                    actions_url=self.actions_url,
                )
            else:
                body = render(channel.type, service.notification(rows))
                delivery = send(
                    channel,
                    body,
                    now=now or utcnow(),
                    session=self._http[channel.name],
                    idempotency_key=idempotency_key(rows),
                )
        except Exception as exc:  # a rendering bug must not wedge the outbox; the row records it
            log.exception("channel render/send failed", extra={"channel": channel.name, "outbox": rows[0].id})
            delivery = Delivery(ok=False, error=f"internal error: {type(exc).__name__}", permanent=True)
        self._finish(rows, delivery, now or utcnow())
        return delivery.ok

    def _finish(self, rows: list[OutboxMessage], delivery: Delivery, now: datetime) -> None:
        ids = [r.id for r in rows]
        attempts = rows[0].attempts + 1  # one request, one attempt, whether answered or timed out
        retry_at = None if delivery.ok or delivery.permanent else next_attempt_at(delivery, attempts, now, rng=self.rng)
        if delivery.ok:
            values: dict[str, object] = {"state": OutboxState.SENT, "sent_at": now}
            outcome = "sent"
        elif retry_at is not None and retry_at < rows[0].give_up_at:
            values, outcome = {"state": OutboxState.PENDING, "not_before": retry_at}, "retry"
        else:
            values, outcome = {"state": OutboxState.FAILED}, "failed"
        values.update(attempts=attempts, last_status=delivery.status, last_error=delivery.error)
        with self.database.write() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(**values))
        metrics.NOTIFICATIONS.labels(rows[0].channel, outcome).inc()
        log.info(
            "notification delivery",
            extra={
                "channel": rows[0].channel,
                "event": rows[0].event,
                "outbox": ids[0],
                "rows": len(rows),
                "outcome": outcome,
                "status": delivery.status,
                "error": delivery.error,
            },
        )
