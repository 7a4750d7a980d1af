"""Drain the outbox: group due rows, render once per group, send, retry with backoff.

Runs in the scheduler process while it holds the lease, so exactly one sender works at a
time and a slow webhook never blocks detection, remediation or any API request.
"""
from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import requests
from sqlalchemy import select, update

from app import metrics
from app.db import Database, utcnow
from app.notify import service
from app.notify.models import OutboxMessage
from app.notify.render import render
from app.notify.transport import Delivery, next_attempt_at, send
from config.channels import ChannelConfig

log = logging.getLogger("vigil.notify")


class Sender:
    def __init__(self, database: Database, channels: Sequence[ChannelConfig], *, batch: int = 200,
                 rng: random.Random | None = None) -> None:
        self.database, self.batch = database, batch
        self.channels = {c.name: c for c in channels}
        self.rng = rng or random.Random()
        self.http = requests.Session()

    def recover(self) -> int:
        """Rows a crashed sender left mid-send go back to pending (at-least-once after a crash)."""
        with self.database.write() as session:
            result = session.execute(update(OutboxMessage).where(OutboxMessage.state == "sending")
                                     .values(state="pending"))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def run_once(self, now: datetime | None = None) -> int:
        """Send every due group once; returns how many groups were attempted."""
        now = now or utcnow()
        groups = self._claim(now)
        for rows in groups:
            self._deliver(rows, now)
        return len(groups)

    def _claim(self, now: datetime) -> list[list[OutboxMessage]]:
        with self.database.write() as session:
            due = session.scalars(select(OutboxMessage).where(
                OutboxMessage.state == "pending", OutboxMessage.not_before <= now)
                .order_by(OutboxMessage.id).limit(self.batch)).all()
            groups: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
            for row in due:
                groups[(row.channel, row.group_key)].append(row)
            if due:
                session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in due]))
                                .values(state="sending"))
            return list(groups.values())

    def _deliver(self, rows: list[OutboxMessage], now: datetime) -> None:
        channel = self.channels.get(rows[0].channel)
        if channel is None:
            self._finish(rows, Delivery(ok=False, error=f"channel {rows[0].channel!r} is no longer configured",
                                        permanent=True), now)
            return
        try:
            delivery = send(channel, render(channel.type, service.notification(rows)), now=now, session=self.http)
        except Exception as exc:  # a rendering bug must not wedge the outbox; the row records it
            log.exception("channel=%s outbox=%s render/send failed", channel.name, rows[0].id)
            delivery = Delivery(ok=False, error=f"internal error: {type(exc).__name__}", permanent=True)
        self._finish(rows, delivery, now)

    def _finish(self, rows: list[OutboxMessage], delivery: Delivery, now: datetime) -> None:
        ids = [r.id for r in rows]
        attempts = rows[0].attempts + 1
        retry_at = None if delivery.ok or delivery.permanent else next_attempt_at(delivery, attempts, now,
                                                                                  rng=self.rng)
        if delivery.ok:
            values: dict[str, object] = {"state": "sent", "sent_at": now}
            outcome = "sent"
        elif retry_at is not None and retry_at < rows[0].give_up_at:
            values, outcome = {"state": "pending", "not_before": retry_at}, "retry"
        else:
            values, outcome = {"state": "failed"}, "failed"
        values.update(attempts=attempts, last_status=delivery.status, last_error=delivery.error)
        with self.database.write() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(**values))
        metrics.NOTIFICATIONS.labels(rows[0].channel, outcome).inc()
        log.info("channel=%s event=%s rows=%d outcome=%s status=%s error=%s", rows[0].channel, rows[0].event,
                 len(rows), outcome, delivery.status, delivery.error)
