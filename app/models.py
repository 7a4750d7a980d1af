"""Imports every domain's models so Base.metadata knows all tables (Alembic, tests)."""

from app.alerts.models import Alert, AlertEvent
from app.audit.models import AuditRecord
from app.auth.models import ApiToken
from app.automation.models import AutomationState, Binding, Execution, Remediation, RemediationVersion
from app.detection.models import DetectorSlot, DetectorStatus, SchedulerLease
from app.diagnostics.models import Diagnosis
from app.incidents.models import Incident
from app.ingest.models import InboxItem
from app.notify.models import ChatMessage, OutboxMessage
from app.silences.models import Silence

__all__ = [
    "Alert",
    "AlertEvent",
    "ApiToken",
    "AuditRecord",
    "AutomationState",
    "Binding",
    "ChatMessage",
    "DetectorSlot",
    "Diagnosis",
    "DetectorStatus",
    "Execution",
    "InboxItem",
    "Incident",
    "OutboxMessage",
    "Remediation",
    "RemediationVersion",
    "SchedulerLease",
    "Silence",
]
