"""Automation tables: remediations and their versions, bindings, executions, the pause switch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from remediations.lifecycle import ACTIVE, FINAL

# Execution states and their moves: remediations.lifecycle. "Active" ones hold a slot: at most
# one per binding and fingerprint (the partial index below spells them out for the database).
ACTIVE_STATES = ACTIVE
FINAL_STATES = FINAL


class Remediation(Base):
    """A registered remediation by name; its scripts are its versions."""

    __tablename__ = "remediations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class RemediationVersion(Base):
    """An immutable version: script text and manifest, addressed by their SHA-256."""

    __tablename__ = "remediation_versions"
    __table_args__ = (UniqueConstraint("remediation_id", "version", name="uq_remediation_versions_rem_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remediation_id: Mapped[int] = mapped_column(ForeignKey("remediations.id"))
    version: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    script: Mapped[str] = mapped_column(Text)
    params_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    timeout_s: Mapped[float] = mapped_column(Float)
    max_concurrency: Mapped[int] = mapped_column(Integer)
    allowed_env: Mapped[list[str]] = mapped_column(JSON)
    builtin: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class Binding(Base):
    """Alerts matching detector/labels/severity run a remediation under a safety envelope."""

    __tablename__ = "bindings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    remediation: Mapped[str] = mapped_column(String(64))
    detector: Mapped[str | None] = mapped_column(String(200), nullable=True)
    matchers: Mapped[dict[str, str]] = mapped_column(JSON)
    severities: Mapped[list[str]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    mode: Mapped[str] = mapped_column(String(16))
    cooldown_s: Mapped[float] = mapped_column(Float)
    rate_limit: Mapped[int] = mapped_column(Integer)
    rate_window_s: Mapped[float] = mapped_column(Float)
    breaker_threshold: Mapped[int] = mapped_column(Integer)
    approval_timeout_s: Mapped[float] = mapped_column(Float, default=3600.0, server_default="3600")
    breaker_open: Mapped[bool] = mapped_column(Boolean, default=False)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    queue: Mapped[str] = mapped_column(String(64), default="default")  # RQ queue (target group)
    # {"labels": {...}, "top": N}: decided once the diagnosis is done (README "Diagnostics").
    when_suspect: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, default=None)
    # remediation | diagnostic (read-only, runs without approval, never judged as a remediation)
    kind: Mapped[str] = mapped_column(String(16), default="remediation", server_default="remediation")
    origin: Mapped[str] = mapped_column(String(16), default="api")  # api | config | dashboard
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class Execution(Base):
    """One run (or decision not to run) of a remediation, from its decision to its outcome;
    its state moves only as remediations.lifecycle allows."""

    __tablename__ = "executions"
    __table_args__ = (
        # Two firings of one fingerprint never run a binding twice at once.
        Index(
            "uq_executions_active_binding_fingerprint",
            "binding_id",
            "fingerprint",
            unique=True,
            sqlite_where=text("state IN ('awaiting_approval', 'queued', 'dispatched', 'running')"),
            postgresql_where=text("state IN ('awaiting_approval', 'queued', 'dispatched', 'running')"),
        ),
        Index("ix_executions_state_id", "state", "id"),
        Index("ix_executions_remediation_id", "remediation", "id"),
        Index("ix_executions_binding_queued", "binding_id", "queued_at"),
        Index("ix_executions_alert_id", "alert_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remediation: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    version_hash: Mapped[str] = mapped_column(String(64))
    binding_id: Mapped[int | None] = mapped_column(ForeignKey("bindings.id", ondelete="SET NULL"), nullable=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text, default="")
    trigger: Mapped[str] = mapped_column(String(16))  # alert | manual | diagnostic (a diagnostic binding's)
    triggered_by: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rejected_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cancelled_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # "system": its alert resolved
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")  # the approver's or rejecter's
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # of a waiting approval
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    runner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    queue: Mapped[str] = mapped_column(String(64), default="default")
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output: Mapped[str] = mapped_column(Text, default="")
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # effective | not_effective
    verify_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recovery_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Interrupted after its script was started: it may have run to completion (side effects).
    outcome_unknown: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class AutomationState(Base):
    """A single row: the global pause switch."""

    __tablename__ = "automation_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    changed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
