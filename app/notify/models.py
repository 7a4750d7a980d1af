"""The notification tables: the outbox (one row per notification and channel) and the chat
messages threaded channels may update later."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class OutboxMessage(Base):
    """One notification to one channel, written in the transaction of the event it reports.

    States: pending -> sending -> sent | failed (gave up); a failed attempt goes back to
    pending with a later not_before.
    """

    __tablename__ = "notification_outbox"
    __table_args__ = (
        Index("ix_notification_outbox_state_not_before", "state", "not_before"),
        Index("ix_notification_outbox_alert_channel", "alert_id", "channel", "event"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    group_key: Mapped[str] = mapped_column(String(200))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True)
    severity: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ChatMessage(Base):
    """A message a threaded channel (a Slack or Mattermost bot) posted and may update later.

    role "alert": the alert's one message (its thread's root), whose `state` it shows;
    role "approval": an approval request with buttons, answered from chat.
    `chat_channel` and `ref` address it in the chat service (Slack channel id and ts,
    Mattermost channel id and post id).
    """

    __tablename__ = "chat_messages"
    __table_args__ = (
        Index("ix_chat_messages_channel_alert", "channel", "role", "alert_id"),
        Index("ix_chat_messages_channel_execution", "channel", "role", "execution_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), nullable=True)
    execution_id: Mapped[int | None] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"), nullable=True)
    chat_channel: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
