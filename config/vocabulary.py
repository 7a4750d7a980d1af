"""The words every layer shares, defined once: severities with their rank, finding, alert and
outbox states.

StrEnums: each member *is* its plain string, so database rows, JSON answers and config files
keep the words users see ('firing', 'critical') and a comparison with a stored string holds.
Execution states have a lifecycle of their own (remediations.lifecycle).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class Severity(StrEnum):
    """How bad an alert is, in ascending order (`rank`: info 0, warning 1, critical 2)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self.value]


# Config and payload fields keep a Literal type, so the JSON schema and Swagger list the words.
SeverityName = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)  # ascending
SEVERITY_RANK: dict[str, int] = {s.value: i for i, s in enumerate(Severity)}


def highest(severities: list[str]) -> str:
    """The worst of known severities (unknown words rank below info)."""
    return max(severities, key=lambda s: SEVERITY_RANK.get(s, -1))


class FindingState(StrEnum):
    """What one analysis of one series says now."""

    OK = "ok"
    PENDING = "pending"  # breaching, not for long enough yet
    FIRING = "firing"


class AlertState(StrEnum):
    """An alert row's state (detectors.lifecycle.step moves it)."""

    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


OPEN_ALERT_STATES: tuple[str, ...] = (AlertState.PENDING.value, AlertState.FIRING.value)


class OutboxState(StrEnum):
    """A notification's delivery state."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


OUTBOX_STATES: tuple[str, ...] = tuple(s.value for s in OutboxState)
UNSENT_STATES: tuple[str, ...] = (OutboxState.PENDING.value, OutboxState.SENDING.value)
