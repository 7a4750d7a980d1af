"""What happened, as values, and the one place that records it.

Services say what happened by returning (or handing over) Events; `publish` alone writes
their consequences, in the caller's transaction so they commit or roll back with the change:

- a row on the alert's timeline (alert_events),
- chat notifications (outbox rows, built by app.notify),
- an audit record (app.audit, the hash chain).

Which of the three an event gets depends only on its kind, in SINKS below: every
consequence of, say, a silenced alert or a sign-in is found in one table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.alerts.models import Alert, AlertEvent
from app.audit import service as audit
from app.automation.models import Execution
from app.notify import service as notify
from config.channels import ChannelConfig
from config.schema import Config


@dataclass(frozen=True)
class Event:
    """One thing that happened. `details` go to the timeline row or the audit record as given
    (the audit log redacts secrets itself); chat messages are built from `alert`/`execution`."""

    kind: str
    at: datetime
    actor: str = "system"
    alert: Alert | None = None
    alert_id: int | None = None  # when the alert row itself is not at hand
    execution: Execution | None = None
    target: str = ""  # what an audit record names, e.g. "binding:restart-web"
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def on_alert(self) -> int | None:
        return self.alert.id if self.alert is not None else self.alert_id


@dataclass(frozen=True)
class Sinks:
    """Where events of one kind are recorded: a timeline row, an audit record, a chat message."""

    timeline: str | None = None  # the timeline row's kind
    audit: bool = False  # an audit record whose action is the event's kind
    # How chat hears of it: "alert" (details["event"] names the message), "suspects", "remediation"
    # (the event's kind names it), "answer" (an approval request's buttons replaced), "ephemeral".
    chat: str | None = None


SINKS: dict[str, Sinks] = {
    # Alert transitions (alerts.service): one kind per transition, the timeline row names it
    "alert.pending": Sinks(timeline="pending"),
    "alert.firing": Sinks(timeline="firing"),
    "alert.resolved": Sinks(timeline="resolved"),
    "alert.cancelled": Sinks(timeline="cancelled"),  # resolved before it ever fired
    "alert.ack": Sinks(timeline="acked", audit=True),
    "alert.unack": Sinks(timeline="unacked", audit=True),
    # Alerts
    "alert.announced": Sinks(chat="alert"),
    "alert.silenced": Sinks(timeline="silenced"),
    "alert.diagnosed": Sinks(timeline="diagnosed"),
    "alert.suspects": Sinks(chat="suspects"),
    "alert.diagnose": Sinks(audit=True),  # a person asked for a diagnosis
    "detector.run": Sinks(audit=True),
    # Automation decisions (automation.service, admission): the same details on both sinks
    "automation.decide": Sinks(timeline="remediation.decided", audit=True),
    "execution.skip": Sinks(timeline="remediation.skipped", audit=True),  # stopped at dispatch
    "automation.pause": Sinks(audit=True),
    "automation.resume": Sinks(audit=True),
    "remediation.run": Sinks(audit=True),  # a person ran a remediation by hand
    # Answers to approvals and ended waits (automation.approvals): the timeline row carries the
    # execution and remediation, the audit record only what the person said
    "remediation.approved": Sinks(timeline="remediation.approved"),
    "remediation.rejected": Sinks(timeline="remediation.rejected"),
    "remediation.cancelled": Sinks(timeline="remediation.cancelled"),
    "remediation.expired": Sinks(timeline="remediation.expired"),
    "execution.approve": Sinks(audit=True),
    "execution.reject": Sinks(audit=True),
    "execution.cancel": Sinks(audit=True),
    "execution.expire": Sinks(audit=True),
    # How a run went (automation.results)
    "remediation.ran": Sinks(timeline="remediation.ran"),
    "diagnostic.ran": Sinks(timeline="diagnostic.ran"),  # carries the diagnostic script's output
    "remediation.interrupted": Sinks(timeline="remediation.interrupted"),
    "execution.finish": Sinks(audit=True),
    "execution.interrupted": Sinks(audit=True),  # its runner died
    "execution.error": Sinks(audit=True),  # it could not even start
    "binding.breaker_open": Sinks(audit=True),
    "breaker.opened": Sinks(timeline="breaker.opened", chat="remediation"),
    # Remediation runs told to chat (with the execution's alert)
    "approval.requested": Sinks(chat="remediation"),
    "remediation.started": Sinks(chat="remediation"),
    "remediation.succeeded": Sinks(chat="remediation"),
    "remediation.failed": Sinks(chat="remediation"),
    "diagnostic.output": Sinks(chat="remediation"),  # a diagnostic script's output, to the alert's thread
    "approval.answered": Sinks(chat="answer"),
    "chat.ephemeral": Sinks(chat="ephemeral"),  # a refusal only the presser sees
    "chat.refused": Sinks(audit=True),
    # People, tokens, channels, notifications, bindings
    "token.create": Sinks(audit=True),
    "token.revoke": Sinks(audit=True),
    "dashboard.sign_in": Sinks(audit=True),
    "dashboard.sign_out": Sinks(audit=True),
    "channel.test": Sinks(audit=True),
    "notification.retry": Sinks(audit=True),
    "binding.promote": Sinks(audit=True),
    "binding.create": Sinks(audit=True),
    "binding.update": Sinks(audit=True),
    "binding.delete": Sinks(audit=True),
    "binding.breaker_close": Sinks(audit=True),
    # Remediations, silences, incidents
    "remediation.register": Sinks(audit=True),
    "remediation.disable": Sinks(audit=True),
    "silence.create": Sinks(audit=True),
    "silence.expire": Sinks(audit=True),
    "incidents.backfill": Sinks(audit=True),
}


def publish(session: Session, events: Iterable[Event], *, config: Config | None = None) -> None:
    """Write every consequence of `events`, in order, in `session`'s transaction.

    Raises:
        KeyError: an event kind SINKS does not list (a new kind must say where it goes).
        ValueError: an event that goes to chat routed by the channels, published without `config`.
    """
    for event in events:
        sinks = SINKS[event.kind]
        if sinks.timeline is not None and event.on_alert is not None:
            session.add(
                AlertEvent(
                    alert_id=event.on_alert,
                    at=event.at,
                    kind=sinks.timeline,
                    actor=event.actor,
                    details=dict(event.details),
                )
            )
        if sinks.audit:
            audit.record(
                session,
                actor=event.actor,
                action=event.kind,
                target=event.target,
                details=dict(event.details) or None,
                at=event.at,
            )
        if sinks.chat is not None:
            _chat(session, config, event, sinks.chat)


def _chat(session: Session, config: Config | None, event: Event, route: str) -> None:
    d, now = event.details, event.at
    if route == "ephemeral":  # one channel's bot, named in the event: no routing
        channel: ChannelConfig = d["channel"]
        notify.enqueue_ephemeral(
            session, channel, chat_channel=d["chat_channel"], user=d["user"], text=d["text"], now=now
        )
        return
    if config is None:
        raise ValueError(f"publishing {event.kind} needs the configuration (its channels)")
    if route == "alert" and event.alert is not None:
        notify.enqueue_alert(session, config, alert=event.alert, event=d["event"], now=now)
    elif route == "suspects" and event.alert is not None:
        notify.enqueue_diagnosed(session, config, alert=event.alert, suspects=d["suspects"], now=now)
    elif route == "answer" and event.execution is not None:
        notify.enqueue_answer(session, config, execution=event.execution, outcome=d["outcome"], text=d["text"], now=now)
    elif route == "remediation" and event.execution is not None:
        notify.enqueue_remediation(session, config, execution=event.execution, event=event.kind, now=now)
