"""Write outbox rows for alert and remediation events; build Notifications from them.

Rows are written in the caller's transaction (the event's own), so a notification is
never lost nor sent for an event that rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.alerts.links import alert_links
from app.alerts.models import Alert
from app.automation.models import Execution
from app.notify.messages import AlertItem, Notification, RemediationInfo, suspects_text
from app.notify.models import OutboxMessage
from config.channels import ChannelConfig, matches
from config.schema import Config
from config.vocabulary import OutboxState, Severity, highest

_TITLES = {
    "alert.firing": "Firing",
    "alert.resolved": "Resolved",
    "remediation.started": "Remediation started",
    "remediation.succeeded": "Remediation succeeded",
    "remediation.failed": "Remediation failed",
    "approval.requested": "Approval requested",
    "breaker.opened": "Circuit breaker opened",
    "approval.answered": "Approval answered",
    "alert.diagnosed": "Diagnosed",
    "diagnostic.output": "Diagnostic output",
}


def alert_payload(alert: Alert, public_url: str) -> dict[str, Any]:
    """What a notification says about an alert: detector, severity, state, labels, value, threshold,
    message, change points, links and its dashboard URL."""
    evidence = alert.evidence or {}
    return {
        "alert_id": alert.id,
        "detector": alert.detector,
        "severity": alert.severity,
        "state": alert.state,
        "labels": dict(alert.labels),
        "started_at": alert.started_at.isoformat(),
        "value": alert.value,
        "threshold": alert.threshold,
        "message": alert.message,
        "change_points": list(evidence.get("change_points") or []),
        "before": evidence.get("before"),
        "after": evidence.get("after"),
        "url": f"{public_url.rstrip('/')}/alerts/{alert.id}",
        "links": [list(link) for link in alert_links(evidence)],
    }  # runbook, source, dashboard (received alerts)


def enqueue_alert(
    session: Session, config: Config, *, alert: Alert, event: str, now: datetime, execution: Execution | None = None
) -> int:
    """An outbox row for each channel that wants this event; returns how many."""
    payload: dict[str, Any] = {"alert": alert_payload(alert, config.settings.public_url)}
    if execution is not None:
        payload["remediation"] = remediation_payload(execution, config.settings.public_url)
    return _enqueue(
        session,
        config.channels,
        event=event,
        severity=alert.severity,
        labels=alert.labels,
        group=f"{event}:{alert.detector}",
        alert_id=alert.id,
        payload=payload,
        now=now,
    )


def enqueue_diagnosed(
    session: Session, config: Config, *, alert: Alert, suspects: Sequence[dict[str, Any]], now: datetime
) -> int:
    """alert.diagnosed: the top 3 suspects as the alert item's message, which every renderer
    shows beside the alert's link."""
    payload = {"alert": {**alert_payload(alert, config.settings.public_url), "message": suspects_text(suspects)}}
    return _enqueue(
        session,
        config.channels,
        event="alert.diagnosed",
        severity=alert.severity,
        labels=alert.labels,
        group=f"alert.diagnosed:{alert.detector}",
        alert_id=alert.id,
        payload=payload,
        now=now,
    )


def enqueue_remediation(session: Session, config: Config, *, execution: Execution, event: str, now: datetime) -> int:
    """An outbox row for each channel that wants this execution event; returns how many. With an
    alert, the message is about the alert and carries the execution."""
    alert = session.get(Alert, execution.alert_id) if execution.alert_id else None
    if alert is not None:
        return enqueue_alert(session, config, alert=alert, event=event, now=now, execution=execution)
    payload = {"remediation": remediation_payload(execution, config.settings.public_url)}
    return _enqueue(
        session,
        config.channels,
        event=event,
        severity="warning",
        labels={},
        group=f"{event}:execution:{execution.id}",
        alert_id=None,
        payload=payload,
        now=now,
    )


def enqueue_answer(
    session: Session, config: Config, *, execution: Execution, outcome: str, text: str, now: datetime
) -> int:
    """Ask every threaded channel to replace the buttons of this approval request with `text`
    ("Approved by alice"); channels that never showed the request skip the row when sending."""
    payload: dict[str, Any] = {
        "remediation": remediation_payload(execution, config.settings.public_url),
        "answer": {"execution_id": execution.id, "outcome": outcome, "text": text},
    }
    alert = session.get(Alert, execution.alert_id) if execution.alert_id else None
    if alert is not None:
        payload["alert"] = alert_payload(alert, config.settings.public_url)
    count = 0
    for channel in config.channels:
        if channel.threaded:
            _add_direct(
                session, channel, event="approval.answered", alert_id=execution.alert_id, payload=payload, now=now
            )
            count += 1
    return count


def enqueue_ephemeral(
    session: Session, channel: ChannelConfig, *, chat_channel: str, user: str, text: str, now: datetime
) -> None:
    """A message only `user` sees (a refusal); sent by the channel's bot, in no alert's order."""
    _add_direct(
        session,
        channel,
        event="chat.ephemeral",
        alert_id=None,
        payload={"chat_channel": chat_channel, "user": user, "text": text},
        now=now,
    )


def _add_direct(
    session: Session,
    channel: ChannelConfig,
    *,
    event: str,
    alert_id: int | None,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    session.add(
        OutboxMessage(
            channel=channel.name,
            event=event,
            group_key=f"{event}:{uuid.uuid4().hex}",
            alert_id=alert_id,
            severity=Severity.INFO,
            payload=payload,
            state=OutboxState.PENDING,
            attempts=0,
            created_at=now,
            not_before=now,
            give_up_at=now + timedelta(seconds=channel.give_up_after_s),
        )
    )


def remediation_payload(e: Execution, public_url: str) -> dict[str, Any]:
    """What a notification says about an execution: remediation, version, outcome, duration, the last
    2,000 characters of output and its dashboard URL."""
    return {
        "name": e.remediation,
        "version": e.version,
        "outcome": e.state,
        "duration_s": e.duration_s,
        "output_tail": (e.output or "")[-2000:],
        "execution_id": e.id,
        "url": f"{public_url.rstrip('/')}/executions/{e.id}",
    }


def _enqueue(
    session: Session,
    channels: Sequence[ChannelConfig],
    *,
    event: str,
    severity: str,
    labels: dict[str, str],
    group: str,
    alert_id: int | None,
    payload: dict[str, Any],
    now: datetime,
) -> int:
    count = 0
    for channel in channels:
        if not matches(channel, event=event, severity=severity, labels=labels):
            continue
        # Alert events wait group_wait so a burst from one detector becomes one message; a
        # threaded channel gives each alert its own message (and thread) instead.
        wait = channel.group_wait_s if event.startswith("alert.") else 0.0
        key = f"{event}:alert:{alert_id}" if channel.threaded and alert_id is not None else group
        session.add(
            OutboxMessage(
                channel=channel.name,
                event=event,
                group_key=key,
                alert_id=alert_id,
                severity=severity,
                payload=payload,
                state=OutboxState.PENDING,
                attempts=0,
                created_at=now,
                not_before=now + timedelta(seconds=wait),
                give_up_at=now + timedelta(seconds=channel.give_up_after_s),
            )
        )
        count += 1
    return count


def enqueue_repeats(session: Session, config: Config, *, now: datetime) -> int:
    """Remind channels of alerts still firing once their repeat interval has passed."""
    count = 0
    for channel in config.channels:
        if "alert.firing" not in channel.events:
            continue
        cutoff = now - timedelta(seconds=channel.repeat_interval_s)
        last = (
            select(OutboxMessage.alert_id, func.max(OutboxMessage.created_at).label("at"))
            .where(OutboxMessage.channel == channel.name, OutboxMessage.event == "alert.firing")
            .group_by(OutboxMessage.alert_id)
            .subquery()
        )
        stale = session.scalars(
            select(Alert)
            .join(last, last.c.alert_id == Alert.id)
            .where(Alert.state == "firing", last.c.at < cutoff)
            .limit(500)
        )
        for alert in stale:
            if matches(channel, event="alert.firing", severity=alert.severity, labels=alert.labels):
                count += _enqueue(
                    session,
                    [channel],
                    event="alert.firing",
                    severity=alert.severity,
                    labels=alert.labels,
                    group=f"alert.firing:{alert.detector}",
                    alert_id=alert.id,
                    payload={"alert": alert_payload(alert, config.settings.public_url), "repeat": True},
                    now=now,
                )
    return count


def notification(rows: Sequence[OutboxMessage]) -> Notification:
    """One message for a group of rows (same channel, event and detector)."""
    first = rows[0]
    alerts = [_alert_item(r.payload["alert"]) for r in rows if "alert" in r.payload]
    remediation = next((_remediation_info(r.payload["remediation"]) for r in rows if "remediation" in r.payload), None)
    subject = alerts[0].detector if alerts else (remediation.name if remediation else "vigil")
    title = f"{_TITLES.get(first.event, first.event)}: {subject}"
    if len(alerts) > 1:
        title += f" ({len(alerts)} alerts)"
    severity = highest([r.severity for r in rows])
    return Notification(
        event=first.event,
        title=title,
        severity=severity,
        created_at=first.created_at,
        alerts=alerts,
        remediation=remediation,
    )


def _alert_item(d: dict[str, Any]) -> AlertItem:
    return AlertItem(
        alert_id=d["alert_id"],
        detector=d["detector"],
        severity=d["severity"],
        state=d["state"],
        labels=d["labels"],
        started_at=datetime.fromisoformat(d["started_at"]),
        value=d.get("value"),
        threshold=d.get("threshold"),
        message=d.get("message") or "",
        change_points=d.get("change_points") or (),
        before=d.get("before"),
        after=d.get("after"),
        url=d.get("url"),
        links=tuple((str(t), str(u)) for t, u in d.get("links") or ()),
    )


def _remediation_info(d: dict[str, Any]) -> RemediationInfo:
    return RemediationInfo(
        name=d["name"],
        version=d["version"],
        outcome=d["outcome"],
        duration_s=d.get("duration_s"),
        output_tail=d.get("output_tail") or "",
        execution_id=d.get("execution_id"),
        url=d.get("url"),
    )
